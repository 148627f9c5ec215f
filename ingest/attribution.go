package ingest

import (
	"path/filepath"
	"sort"

	"kvbench/results"
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
// phase: how many requests got each label and their TTFTs (ms).
type Attribution struct {
	RunID  string
	Arm    string
	Phase  string
	Counts map[string]int
	TTFT   map[string][]float64
}

type reqSpan struct {
	start, first int64 // relative to run start, ns: sent, first token
	ttft         float64
	phase        string
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
func Attribute(b Bundle, rt *RunTelemetry) ([]Attribution, error) {
	if !rt.HaveKVBM {
		return nil, nil
	}
	info, ok := b.Manifest.Tables[results.TableRequests]
	if !ok {
		return nil, nil
	}
	var spans []reqSpan
	var starts []int64
	_, err := scanRequests(filepath.Join(b.Dir, info.File), func(r *requestCols) {
		if r.StartUnixNs == 0 {
			return
		}
		s := r.StartUnixNs - rt.StartNs
		starts = append(starts, s)
		if r.ErrorKind != "" || r.TTFTNs == nil || !replayPhases[r.Phase] {
			return
		}
		spans = append(spans, reqSpan{start: s, first: s + *r.TTFTNs, ttft: float64(*r.TTFTNs) / 1e6, phase: r.Phase})
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i] < starts[j] })
	disk := sumSeries(rt.Counters["onboard_d2d"], rt.Counters["onboard_d2h"])
	host := rt.Counters["onboard_h2d"]
	byPhase := map[string]*Attribution{}
	var order []string
	for _, sp := range spans {
		a := byPhase[sp.phase]
		if a == nil {
			a = &Attribution{RunID: rt.RunID, Arm: rt.Arm, Phase: sp.phase, Counts: map[string]int{}, TTFT: map[string][]float64{}}
			byPhase[sp.phase] = a
			order = append(order, sp.phase)
		}
		label := TierUnknown
		lo, hi, ok := bracket(disk, sp.start, sp.first)
		if ok {
			switch {
			case othersSent(starts, lo, hi, sp.start):
				label = TierAmbiguous
			default:
				dd := valueAt(disk, hi) - valueAt(disk, lo)
				dh := 0.0
				if len(host) > 0 {
					if l2, h2, ok2 := bracket(host, sp.start, sp.first); ok2 {
						dh = valueAt(host, h2) - valueAt(host, l2)
					}
				}
				switch {
				case dd < 0 || dh < 0:
					label = TierUnknown // a counter reset inside the window
				case dd > 0 && dh > 0:
					label = TierDiskHost
				case dd > 0:
					label = TierDisk
				case dh > 0:
					label = TierHost
				default:
					label = TierNone
				}
			}
		}
		a.Counts[label]++
		a.TTFT[label] = append(a.TTFT[label], sp.ttft)
	}
	out := make([]Attribution, 0, len(order))
	for _, ph := range order {
		out = append(out, *byPhase[ph])
	}
	return out, nil
}

// sumSeries adds cumulative series sampled at the same scrapes.
func sumSeries(a, b []Point) []Point {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return b
	}
	byT := map[float64]float64{}
	for _, p := range a {
		byT[p.T] += p.V
	}
	for _, p := range b {
		byT[p.T] += p.V
	}
	out := make([]Point, 0, len(byT))
	for t, v := range byT {
		out = append(out, Point{t, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].T < out[j].T })
	return out
}

// bracket finds the last sample at or before start and the first at or
// after end (times in ns from run start).
func bracket(s []Point, start, end int64) (lo, hi float64, ok bool) {
	st, en := float64(start)/1e9, float64(end)/1e9
	i := sort.Search(len(s), func(i int) bool { return s[i].T > st }) - 1
	j := sort.Search(len(s), func(i int) bool { return s[i].T >= en })
	if i < 0 || j >= len(s) {
		return 0, 0, false
	}
	return s[i].T, s[j].T, true
}

func valueAt(s []Point, t float64) float64 {
	i := sort.Search(len(s), func(i int) bool { return s[i].T >= t })
	if i < len(s) && s[i].T == t {
		return s[i].V
	}
	return 0
}

// othersSent reports whether a request other than the one sent at self
// was sent during [lo, hi] (seconds from run start).
func othersSent(starts []int64, lo, hi float64, self int64) bool {
	l, h := int64(lo*1e9), int64(hi*1e9)
	i := sort.Search(len(starts), func(i int) bool { return starts[i] >= l })
	for ; i < len(starts) && starts[i] <= h; i++ {
		if starts[i] != self {
			return true
		}
	}
	return false
}
