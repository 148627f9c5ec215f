package analysis

import (
	"math"
	"strings"
	"testing"

	"kvbench/results"
)

func ttfts(n int, scale float64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(scale * (20 + 10*math.Sin(float64(i)*1.7)*math.Sin(float64(i)*0.3)))
	}
	return out
}

func TestPlan(t *testing.T) {
	a := New(Options{Baseline: "B1", Candidate: "B2"})
	for i, s := range []float64{1, 1.05, 0.97} {
		a.Add(requestsRun("b"+string(rune('0'+i)), "B1", ttfts(200, s)))
		a.Add(requestsRun("c"+string(rune('0'+i)), "B2", ttfts(200, 0.9*s)))
	}
	o := PlanOptions{Metric: results.MetricTTFT, Phase: results.PhaseMeasure, Quantile: 0.5, Detect: []float64{0.05, 0.2}, Power: 0.8}
	p, err := a.Plan(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Cells) != 1 {
		t.Fatalf("plan %+v", p)
	}
	// Per change: the pilot's run size, then (when fewer suffice) the least
	// requests per run for the same runs, then 2x and 4x the requests.
	rows := map[[2]float64]PlanRow{}
	for _, r := range p.Cells[0].Rows {
		k := [2]float64{r.Change, float64(r.RequestsPerRun)}
		if r.Least {
			k[1] = -1
		}
		rows[k] = r
	}
	r5, r20 := rows[[2]float64{0.05, 200}], rows[[2]float64{0.2, 200}]
	if !(r5.RunsPerArm > r20.RunsPerArm && r20.RunsPerArm >= 2 && r5.Power >= 0.8) {
		t.Errorf("5%%: %+v, 20%%: %+v; want more runs for the smaller change", r5, r20)
	}
	for _, pilot := range []PlanRow{r5, r20} {
		least, ok := rows[[2]float64{pilot.Change, -1}]
		if !ok {
			continue
		}
		if !(least.RunsPerArm == pilot.RunsPerArm && least.RequestsPerRun < pilot.RequestsPerRun &&
			least.Power >= 0.8 && least.Power <= pilot.Power && least.Hours <= pilot.Hours) {
			t.Errorf("least-requests row %+v against the pilot-size row %+v", least, pilot)
		}
	}
	if _, ok := rows[[2]float64{0.2, -1}]; !ok {
		t.Errorf("20%%: no least-requests row, though %d runs of 200 requests give power %.2f", r20.RunsPerArm, r20.Power)
	}
	if p.Cells[0].Between <= 0 {
		t.Errorf("between-run variance %v; the pilot's runs differ", p.Cells[0].Between)
	}
}

func TestPlanBadInput(t *testing.T) {
	ok := PlanOptions{Metric: results.MetricTTFT, Phase: results.PhaseMeasure, Quantile: 0.5, Detect: []float64{0.1}, Power: 0.8}
	one := New(Options{Baseline: "B1", Candidate: "B2"})
	one.Add(requestsRun("b0", "B1", ttfts(100, 1)))
	one.Add(requestsRun("c0", "B2", ttfts(100, 1)))
	one.Add(requestsRun("c1", "B2", ttfts(100, 1)))
	cases := []struct {
		name string
		a    *Analyzer
		edit func(*PlanOptions)
		want string
	}{
		{"no runs", New(Options{Baseline: "B1", Candidate: "B2"}), func(*PlanOptions) {}, "no runs"},
		{"one run per arm", one, func(*PlanOptions) {}, "at least 2 runs per arm"},
		{"unknown phase", one, func(o *PlanOptions) { o.Phase = "replya" }, "unknown phase"},
		{"unknown metric", one, func(o *PlanOptions) { o.Metric = "tfft" }, "unknown metric"},
		{"no data in phase", one, func(o *PlanOptions) { o.Phase = results.PhaseReplay }, "no ttft data"},
		{"bad quantile", one, func(o *PlanOptions) { o.Quantile = 1 }, "quantile"},
		{"bad change", one, func(o *PlanOptions) { o.Detect = []float64{0} }, "change"},
	}
	for _, c := range cases {
		o := ok
		c.edit(&o)
		if _, err := c.a.Plan(o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v; want %q", c.name, err, c.want)
		}
	}
}
