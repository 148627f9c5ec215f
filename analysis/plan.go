package analysis

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"kvbench/results"
	"kvbench/stats"
)

// PlanOptions chooses what a plan is for.
type PlanOptions struct {
	Metric   string    // results.MetricTTFT, MetricLatency or MetricITL
	Phase    string    // a phase name known to results (replay, measure, ...)
	Quantile float64   // in (0, 1)
	Detect   []float64 // relative changes to detect, e.g. 0.05, 0.10, 0.20
	Power    float64   // e.g. 0.8
	// RequestScales multiplies the pilot's requests per run for the
	// alternatives shown (default 1, 2, 4).
	RequestScales []float64
	// MaxRuns bounds the search (default 200 runs per arm).
	MaxRuns int
}

// Plan says how many runs per arm a decision needs, per compared cell.
type Plan struct {
	Metric     string
	Phase      string
	Quantile   float64
	Power      float64
	Confidence float64
	Baseline   string
	Candidate  string
	Cells      []PlanCell
}

// PlanCell is the plan for one (scenario, concurrency, sweep point).
type PlanCell struct {
	Scenario      string
	Concurrency   int
	Sweep         string
	BaselineRuns  int
	CandidateRuns int
	// RequestsPerRun is the pilot's mean count of values per run.
	RequestsPerRun float64
	// Between is the run-to-run variance of the log quantile; WithinN is N
	// times the within-run variance of a run's log quantile of N requests.
	Between, WithinN float64
	// RunSeconds is the pilot's mean wall time per run (manifest start to end).
	RunSeconds float64
	Rows       []PlanRow
}

// PlanRow is the runs per arm for one change and one run size.
type PlanRow struct {
	Change         float64
	RequestsPerRun int
	// RunsPerArm is the least count with the wanted power; 0 when even
	// MaxRuns do not reach it.
	RunsPerArm int
	Power      float64 // the planned power at RunsPerArm
	// Hours is the wall time of both arms' runs at the pilot's pace, run
	// time scaled by the requests per run.
	Hours float64
	// Least marks the row with the fewest requests per run with which
	// RunsPerArm runs still reach the power (its power is nearest the target).
	Least bool
}

// Plan estimates, from the runs added as a pilot, the within- and between-run
// variation of the chosen metric, phase and quantile, and the runs per arm
// needed to detect each change with the wanted power at the analysis's
// confidence (stats.Variation). Every cell needs two runs per arm.
func (a *Analyzer) Plan(o PlanOptions) (*Plan, error) {
	mt, err := a.checkPlan(&o)
	if err != nil {
		return nil, err
	}
	p := &Plan{Metric: o.Metric, Phase: o.Phase, Quantile: o.Quantile, Power: o.Power, Confidence: a.so.Confidence,
		Baseline: a.opt.Baseline, Candidate: a.opt.Candidate}
	cells := map[cell]map[string]*group{}
	var order []cell
	for _, g := range a.sortedGroups() {
		if g.key.phase != o.Phase {
			continue
		}
		c := cell{g.key.scenario, g.key.phase, g.key.concurrency, g.key.sweep, g.key.pass, g.key.split}
		if cells[c] == nil {
			cells[c] = map[string]*group{}
			order = append(order, c)
		}
		cells[c][g.key.arm] = g
	}
	for _, c := range order {
		base, cand := cells[c][a.opt.Baseline], cells[c][a.opt.Candidate]
		if base == nil || cand == nil {
			continue
		}
		br, cr := base.runsOf(mt.get), cand.runsOf(mt.get)
		if len(br) < 2 || len(cr) < 2 {
			return nil, fmt.Errorf("plan: %s/%s/c%d has %d %s and %d %s runs with %s data; the pilot needs at least 2 runs per arm",
				c.scenario, c.phase, c.concurrency, len(br), a.opt.Baseline, len(cr), a.opt.Candidate, o.Metric)
		}
		v, ok := stats.EstimateVariation([][][]float64{br, cr}, o.Quantile, a.so)
		if !ok {
			return nil, fmt.Errorf("plan: %s/%s/c%d: the p%g quantile is not positive in some run", c.scenario, c.phase, c.concurrency, 100*o.Quantile)
		}
		pc := PlanCell{Scenario: c.scenario, Concurrency: c.concurrency, Sweep: c.sweep, BaselineRuns: len(br), CandidateRuns: len(cr),
			RequestsPerRun: v.N, Between: v.Between, WithinN: v.WithinN, RunSeconds: a.meanRunSeconds(base, cand)}
		for _, d := range o.Detect {
			pc.Rows = append(pc.Rows, a.planRows(v, pc.RunSeconds, d, o)...)
		}
		p.Cells = append(p.Cells, pc)
	}
	if len(p.Cells) == 0 {
		return nil, fmt.Errorf("plan: no %s data in phase %q with both %s and %s runs", o.Metric, o.Phase, a.opt.Baseline, a.opt.Candidate)
	}
	return p, nil
}

// planRows are the plan's rows for one change: for each request scale, the
// runs per arm at that run size; after the pilot's size, the least requests per
// run with which that many runs reach the power (Least), when fewer than the
// pilot's.
func (a *Analyzer) planRows(v stats.Variation, runSeconds, d float64, o PlanOptions) []PlanRow {
	var rows []PlanRow
	for _, k := range o.RequestScales {
		n := math.Round(v.N * k)
		G := v.RunsNeeded(n, d, o.Power, a.so.Confidence, o.MaxRuns)
		row := PlanRow{Change: d, RequestsPerRun: int(n)}
		if G <= o.MaxRuns {
			row.RunsPerArm, row.Power = G, v.Power(G, n, d, a.so.Confidence)
			row.Hours = 2 * float64(G) * runSeconds * k / 3600
		}
		rows = append(rows, row)
		if k != 1 || row.RunsPerArm == 0 {
			continue
		}
		if m, ok := v.RequestsNeeded(G, d, o.Power, a.so.Confidence, int(n)); ok && m < int(n) {
			rows = append(rows, PlanRow{Change: d, RequestsPerRun: m, RunsPerArm: G, Least: true,
				Power: v.Power(G, float64(m), d, a.so.Confidence), Hours: row.Hours * float64(m) / n})
		}
	}
	return rows
}

// checkPlan validates and defaults the options and returns the metric.
func (a *Analyzer) checkPlan(o *PlanOptions) (requestMetric, error) {
	if len(a.runs) == 0 {
		return requestMetric{}, errors.New("plan: no runs")
	}
	i := slices.IndexFunc(metrics, func(m requestMetric) bool { return m.id == o.Metric })
	if i < 0 {
		return requestMetric{}, fmt.Errorf("plan: unknown metric %q (want %s, %s or %s)", o.Metric, results.MetricTTFT, results.MetricLatency, results.MetricITL)
	}
	if results.PhaseRole(o.Phase) == "" {
		return requestMetric{}, fmt.Errorf("plan: unknown phase %q", o.Phase)
	}
	if !(o.Quantile > 0 && o.Quantile < 1) {
		return requestMetric{}, fmt.Errorf("plan: quantile %v is not in (0, 1)", o.Quantile)
	}
	if !(o.Power > 0 && o.Power < 1) {
		return requestMetric{}, fmt.Errorf("plan: power %v is not in (0, 1)", o.Power)
	}
	if len(o.Detect) == 0 {
		return requestMetric{}, errors.New("plan: no change to detect")
	}
	for _, d := range o.Detect {
		if !(d > 0 && d < 1) {
			return requestMetric{}, fmt.Errorf("plan: change %v is not in (0, 1)", d)
		}
	}
	if len(o.RequestScales) == 0 {
		o.RequestScales = []float64{1, 2, 4}
	}
	if o.MaxRuns <= 0 {
		o.MaxRuns = 200
	}
	return metrics[i], nil
}

// meanRunSeconds is the mean manifest wall time of the runs behind two groups.
func (a *Analyzer) meanRunSeconds(gs ...*group) float64 {
	dur := map[string]float64{}
	for _, m := range a.manifests {
		if m.EndedUnixNs > m.StartedUnixNs {
			dur[m.RunID] = float64(m.EndedUnixNs-m.StartedUnixNs) / 1e9
		}
	}
	var sum float64
	var n int
	for _, g := range gs {
		for _, r := range g.runs {
			if d, ok := dur[r.runID]; ok {
				sum += d
				n++
			}
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}
