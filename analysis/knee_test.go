package analysis

import (
	"testing"

	"kvbench/results"
)

func TestKnees(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	group := func(arm, sweep string, mean, lo, hi float64) Group {
		return Group{Scenario: "standard", Phase: "measure", Arm: arm, Sweep: sweep, RunMetrics: []RunMetric{
			{Name: results.MetricThroughput, Mean: 99, PerRun: []float64{99}},
			{Name: results.MetricSLOAttainment, Mean: mean, Lo: f(lo), Hi: f(hi), PerRun: []float64{mean, mean}},
		}}
	}
	groups := []Group{
		group("B1", "request-rate=16", 0.5, 0.3, 0.95),
		group("B1", "request-rate=2", 1, 1, 1),
		group("B1", "request-rate=8", 0.92, 0.85, 0.99),
		group("B1", "request-rate=4", 0.97, 0.93, 1.2),
		group("B2", "request-rate=2", 0.8, 0.7, 0.9),
		group("B2", "request-rate=4", 0.99, 0.95, 1),
		{Scenario: "standard", Phase: "measure", Arm: "B3", Sweep: "concurrency=4"},
	}
	ks := knees(groups, 0.9)
	if len(ks) != 2 {
		t.Fatalf("%d knees; want B1 and B2 (B3 has no rate axis): %+v", len(ks), ks)
	}
	for _, c := range []struct {
		arm          string
		rate, lo, hi float64
	}{
		{"B1", 8, 4, 16}, // 8 holds on the mean; 8's lower bound misses; 16's upper bound reaches
		{"B2", 0, 0, 4},  // the lowest rate misses on the mean
	} {
		var k *Knee
		for i := range ks {
			if ks[i].Arm == c.arm {
				k = &ks[i]
			}
		}
		if k == nil || k.Rate != c.rate || k.Lo != c.lo || k.Hi != c.hi {
			t.Errorf("%s: knee %+v; want rate %v bracket [%v, %v]", c.arm, k, c.rate, c.lo, c.hi)
		}
	}
	if p := ks[0].Points; p[0].Rate != 2 || p[len(p)-1].Rate != 16 || p[1].Hi != 1 {
		t.Errorf("points not sorted by rate or interval not clamped: %+v", p)
	}
}
