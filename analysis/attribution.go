package analysis

import (
	"sort"

	"kvbench/ingest"
	"kvbench/results"
	"kvbench/stats"
)

// Per-request tier labels. They are estimates: KVBM counts blocks when a
// transfer is enqueued, and only the scrapes around a request bound when
// its transfers happened.
const (
	TierDisk      = "disk"       // disk→device onboarding moved, host→device did not
	TierHost      = "host"       // host→device onboarding moved, disk→device did not
	TierDiskHost  = "disk+host"  // both moved
	TierNone      = "no_onboard" // neither moved: a GPU prefix hit or a recompute
	TierAmbiguous = "ambiguous"  // another request overlapped the scrape window
	TierUnknown   = "unknown"    // no scrape before the start or after the end
)

// TierLabels lists the labels in report order.
var TierLabels = []string{TierDisk, TierHost, TierDiskHost, TierNone, TierAmbiguous, TierUnknown}

// Attribution is the per-request tier estimate of one run's replay-type
// phase: how many requests got each label and their TTFTs (ns).
type Attribution struct {
	RunID  string
	Arm    string
	Phase  string
	Counts map[string]int
	TTFT   map[string][]float64
}

// Attribute labels each successful request of the replay-type phases of a
// run by the onboard counters that moved between the last scrape before it
// was sent and the first scrape after its first token. KVBM counts onboard
// blocks when the transfer is queued, which happens before prefill, so a
// request's onboarding lands in that window. A window in which another
// request was sent cannot be told apart and is "ambiguous": the labels are
// informative when scrapes are shorter than the gap between requests, as
// on a GPU server with --metrics-interval 1s, long prompts and low
// concurrency.
func Attribute(r *ingest.Run, rt *RunTelemetry) []Attribution {
	if !rt.HaveKVBM {
		return nil
	}
	var starts []int64
	for i := range r.Requests {
		if q := &r.Requests[i]; q.StartUnixNs != 0 {
			starts = append(starts, q.StartUnixNs-rt.StartNs)
		}
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i] < starts[j] })
	w := onboardWindows{
		disk:   sumSeries(rt.Counters[results.KVBMOnboardD2D], rt.Counters[results.KVBMOnboardD2H]),
		host:   rt.Counters[results.KVBMOnboardH2D],
		starts: starts,
	}
	byPhase := map[string]*Attribution{}
	var order []string
	for i := range r.Requests {
		q := &r.Requests[i]
		if q.StartUnixNs == 0 || q.ErrorKind != "" || !q.HasTTFT || !results.IsReplayPhase(q.Phase) {
			continue
		}
		a := byPhase[q.Phase]
		if a == nil {
			a = &Attribution{RunID: rt.RunID, Arm: rt.Arm, Phase: q.Phase, Counts: map[string]int{}, TTFT: map[string][]float64{}}
			byPhase[q.Phase] = a
			order = append(order, q.Phase)
		}
		start := q.StartUnixNs - rt.StartNs
		label := w.label(start, start+q.TTFTNs)
		a.Counts[label]++
		a.TTFT[label] = append(a.TTFT[label], float64(q.TTFTNs))
	}
	out := make([]Attribution, 0, len(order))
	for _, ph := range order {
		out = append(out, *byPhase[ph])
	}
	return out
}

// onboardWindows labels requests by the onboard counters around them.
type onboardWindows struct {
	disk, host []Point
	starts     []int64 // every request's start, sorted
}

// label returns the tier label of a request sent at start whose first
// token came at first (ns from the run start).
func (w onboardWindows) label(start, first int64) string {
	lo, hi, ok := bracket(w.disk, start, first)
	switch {
	case !ok:
		return TierUnknown
	case othersSent(w.starts, lo, hi, start):
		return TierAmbiguous
	}
	dd := valueAt(w.disk, hi) - valueAt(w.disk, lo)
	dh := 0.0
	if len(w.host) > 0 {
		if l2, h2, ok2 := bracket(w.host, start, first); ok2 {
			dh = valueAt(w.host, h2) - valueAt(w.host, l2)
		}
	}
	switch {
	case dd < 0 || dh < 0:
		return TierUnknown // a counter reset inside the window
	case dd > 0 && dh > 0:
		return TierDiskHost
	case dd > 0:
		return TierDisk
	case dh > 0:
		return TierHost
	}
	return TierNone
}

// sumSeries adds cumulative series sampled at the same scrapes.
func sumSeries(a, b []Point) []Point {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return b
	}
	byT := map[int64]float64{}
	for _, p := range a {
		byT[p.OffsetNs] += p.V
	}
	for _, p := range b {
		byT[p.OffsetNs] += p.V
	}
	return pointsOf(byT, 0)
}

// bracket finds the time of the last sample at or before start and of the
// first at or after end.
func bracket(s []Point, start, end int64) (lo, hi int64, ok bool) {
	i := sort.Search(len(s), func(i int) bool { return s[i].OffsetNs > start }) - 1
	j := sort.Search(len(s), func(i int) bool { return s[i].OffsetNs >= end })
	if i < 0 || j >= len(s) {
		return 0, 0, false
	}
	return s[i].OffsetNs, s[j].OffsetNs, true
}

// valueAt returns the value of the sample at t, or 0.
func valueAt(s []Point, t int64) float64 {
	i := sort.Search(len(s), func(i int) bool { return s[i].OffsetNs >= t })
	if i < len(s) && s[i].OffsetNs == t {
		return s[i].V
	}
	return 0
}

// othersSent reports whether a request other than the one sent at self
// was sent during [lo, hi].
func othersSent(starts []int64, lo, hi, self int64) bool {
	i := sort.Search(len(starts), func(i int) bool { return starts[i] >= lo })
	for ; i < len(starts) && starts[i] <= hi; i++ {
		if starts[i] != self {
			return true
		}
	}
	return false
}

// tierPool pools the attributions of every run per arm and phase.
type tierPool struct {
	order  []armPhase
	pooled map[armPhase]map[string][]float64
}

type armPhase struct{ arm, phase string }

func (t *tierPool) add(attrs []Attribution) {
	if t.pooled == nil {
		t.pooled = map[armPhase]map[string][]float64{}
	}
	for _, a := range attrs {
		k := armPhase{a.Arm, a.Phase}
		if t.pooled[k] == nil {
			t.pooled[k] = map[string][]float64{}
			t.order = append(t.order, k)
		}
		for label, v := range a.TTFT {
			t.pooled[k][label] = append(t.pooled[k][label], v...)
		}
	}
}

// shares returns each arm's and phase's requests per tier label, arms in
// name order and phases in run order.
func (t *tierPool) shares() []TierShare {
	order := append([]armPhase(nil), t.order...)
	sort.SliceStable(order, func(i, j int) bool {
		if order[i].arm != order[j].arm {
			return order[i].arm < order[j].arm
		}
		return results.PhaseOrder(order[i].phase) < results.PhaseOrder(order[j].phase)
	})
	out := []TierShare{}
	for _, k := range order {
		total := 0
		for _, v := range t.pooled[k] {
			total += len(v)
		}
		for _, label := range TierLabels {
			v := t.pooled[k][label]
			if len(v) == 0 {
				continue
			}
			sort.Float64s(v)
			out = append(out, TierShare{Arm: k.arm, Phase: k.phase, Tier: label, Requests: len(v),
				Share: float64(len(v)) / float64(total), TTFTp50: stats.Quantile(v, 0.5)})
		}
	}
	return out
}
