package analysis

import (
	"testing"

	"kvbench/ingest"
)

// shifted starts every request of r h hours later.
func shifted(r *ingest.Run, h int64) *ingest.Run {
	for i := range r.Requests {
		r.Requests[i].StartUnixNs += h * 3600e9
	}
	return r
}

func TestDrift(t *testing.T) {
	a := New(Options{Baseline: "B1", Candidate: "B2"})
	// ABBA over six hours: B1 flat, B2 slower by 20% every two hours.
	for i, s := range []float64{1, 1.2, 1.44} {
		a.Add(shifted(requestsRun("b"+string(rune('0'+i)), "B1", ttfts(200, 1+0.001*float64(i))), int64(2*i)))
		a.Add(shifted(requestsRun("c"+string(rune('0'+i)), "B2", ttfts(200, 0.9*s)), int64(2*i+1)))
	}
	s := a.Summary()
	var b1, b2 *Drift
	for i := range s.Drift {
		switch s.Drift[i].Arm {
		case "B1":
			b1 = &s.Drift[i]
		case "B2":
			b2 = &s.Drift[i]
		}
	}
	if b1 == nil || b2 == nil {
		t.Fatalf("drift rows %+v; want one per arm", s.Drift)
	}
	if b2.Flag != FlagDrift || !(b2.Change > 0.3 && b2.Lo > 0) || b2.Runs != 3 {
		t.Errorf("B2 drift %+v; want DRIFT with change about +44%%", *b2)
	}
	if b1.Flag != "" {
		t.Errorf("B1 drift %+v; want no flag (0.1%% per run is not material)", *b1)
	}
}
