package analysis

import (
	"math"
	"slices"

	"kvbench/results"
	"kvbench/stats"
)

// FlagDrift marks an arm whose per-run TTFT medians trend over time by a
// material amount (see Drift).
const FlagDrift = "DRIFT"

// Drift is the time trend of one arm's per-run TTFT medians in one cell: the
// least-squares slope of log median on run start time, with its interval.
// Campaigns interleave arms (ABBA), so a trend within an arm is visible
// apart from the arm difference.
type Drift struct {
	Scenario    string
	Phase       string
	Concurrency int
	Sweep       string
	Arm         string
	Metric      string // results.MetricTTFT
	Runs        int
	// SlopePerHour is the change of log median TTFT per hour (≈ fraction
	// per hour), with its confidence interval and the p-value of no trend.
	SlopePerHour float64
	Lo, Hi       float64
	PValue       float64
	// Change is the fitted relative change over the arm's span of run
	// starts: exp(slope·span) − 1.
	Change float64
	// ArmDifference is |log(candidate/baseline)| of the cell's median TTFT,
	// what the drift is compared with (0 when there is no comparison).
	ArmDifference float64
	// Flag is FlagDrift when the slope's interval excludes 0 and the change
	// over the span is at least half the arm difference (or at least the
	// margin when the arms do not differ by more than it); "" otherwise.
	Flag string
}

// drifts computes the drift of every arm with at least three runs with TTFT
// in every compared cell. Per-run medians come from the comparison's p50
// estimates in est when there are some.
func (a *Analyzer) drifts(groups []*group, cmps []Comparison, est map[armKey][]stats.Estimate) []Drift {
	var out []Drift
	for _, g := range groups {
		var diff float64
		found := false
		for _, c := range cmps {
			if c.Metric == results.MetricTTFT && c.P == 0.5 && c.Scenario == g.key.scenario && c.Phase == g.key.phase &&
				c.Concurrency == g.key.concurrency && c.Sweep == g.key.sweep && c.Ratio > 0 {
				diff, found = math.Abs(math.Log(c.Ratio)), true
			}
		}
		if !found {
			continue
		}
		var medians []float64 // per non-empty run, in g.runs order
		for _, e := range est[armKey{g.key, results.MetricTTFT}] {
			if e.P == 0.5 {
				medians = e.PerRun
			}
		}
		var x, y []float64
		k := 0
		for _, r := range g.runs {
			if len(r.ttft) == 0 {
				continue
			}
			var m float64
			if k < len(medians) {
				m = medians[k]
			} else {
				m = stats.Quantile(slices.Sorted(slices.Values(r.ttft)), 0.5)
			}
			k++
			if !(m > 0) {
				continue
			}
			x = append(x, float64(r.firstStartNs)/3.6e12)
			y = append(y, math.Log(m))
		}
		tr, ok := stats.LinearTrend(x, y, a.so.Confidence)
		if !ok {
			continue
		}
		span := slices.Max(x) - slices.Min(x)
		d := Drift{Scenario: g.key.scenario, Phase: g.key.phase, Concurrency: g.key.concurrency, Sweep: g.key.sweep, Arm: g.key.arm,
			Metric: results.MetricTTFT, Runs: tr.N, SlopePerHour: tr.Slope, Lo: tr.Lo, Hi: tr.Hi, PValue: tr.PValue,
			Change: math.Expm1(tr.Slope * span), ArmDifference: diff}
		moved := math.Abs(tr.Slope * span)
		if (tr.Lo > 0 || tr.Hi < 0) && moved >= math.Max(0.5*diff, math.Min(diff, a.so.Margin)) {
			d.Flag = FlagDrift
		}
		out = append(out, d)
	}
	return out
}
