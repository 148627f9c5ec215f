package analysis

import "kvbench/results"

// MaxTimelinePoints bounds the points kept per run for the TTFT-over-time
// plot.
const MaxTimelinePoints = 20000

// timeline collects a run's Timeline. Beyond MaxTimelinePoints every other
// point is dropped, deterministically, and from then on only every
// stride-th request is kept, so memory stays bounded.
type timeline struct {
	Timeline
	stride int
	seen   int
}

func newTimeline(m *results.Manifest) *timeline {
	return &timeline{Timeline: Timeline{RunID: m.RunID, Arm: m.TierMode, Phases: spans(m)}, stride: 1}
}

func (t *timeline) add(offsetNs, ttftNs int64) {
	t.seen++
	if (t.seen-1)%t.stride != 0 {
		return
	}
	t.OffsetNs = append(t.OffsetNs, offsetNs)
	t.TTFTNs = append(t.TTFTNs, ttftNs)
	if len(t.OffsetNs) >= MaxTimelinePoints {
		t.OffsetNs, t.TTFTNs = everyOther(t.OffsetNs), everyOther(t.TTFTNs)
		t.stride *= 2
	}
}

// everyOther keeps the elements at even indexes, in place.
func everyOther(v []int64) []int64 {
	kept := v[:0]
	for i := 0; i < len(v); i += 2 {
		kept = append(kept, v[i])
	}
	return kept
}

// spans returns a run's phases relative to its start.
func spans(m *results.Manifest) []Span {
	out := make([]Span, 0, len(m.Phases))
	for _, ph := range m.Phases {
		out = append(out, Span{Name: ph.Name, StartNs: ph.StartUnixNs - m.StartedUnixNs, EndNs: ph.EndUnixNs - m.StartedUnixNs})
	}
	return out
}
