package stats

import (
	"math"
	"testing"
)

// planPower plans the runs for 80% power from a pilot of the same process (G
// runs per arm at the pilot's run size n, then the least requests per run m
// with which G runs reach it) and returns G, m, the simulated power of
// CompareQuantiles (verdict better) with G runs of m requests per arm, and the
// planned power.
func planPower(t *testing.T, f family, sigma float64, n int, p, change float64, R int, seed uint64) (int, int, float64, float64) {
	r := newRand(seed)
	pilot := [][][]float64{gridRuns(r, f, 100, n, sigma), gridRuns(r, f, 100, n, sigma)}
	v, ok := EstimateVariation(pilot, p, simOptions(seed))
	if !ok {
		t.Fatal("variation not estimated")
	}
	G := v.RunsNeeded(float64(n), change, 0.8, 0.95, 50)
	m, ok := v.RequestsNeeded(G, change, 0.8, 0.95, n)
	if !ok {
		t.Fatalf("G=%d runs of %d requests do not reach the power RunsNeeded planned", G, n)
	}
	better := make([]bool, R)
	simulate(R, func(i int) {
		rr := newRand(seed*7919 + uint64(i))
		X := gridRuns(rr, f, G, m, sigma)
		Y := gridRuns(rr, f, G, m, sigma)
		for _, y := range Y {
			for j := range y {
				y[j] *= 1 + change
			}
		}
		c := CompareQuantiles(X, Y, []float64{p}, 0, 0, simOptions(uint64(i)+1))[0]
		better[i] = c.Verdict == VerdictBetter
	})
	return G, m, mean(better), v.Power(G, float64(m), change, 0.95)
}

// TestPlanPowerSimulation plans runs for 80% power from a large pilot (100 runs
// per arm, so the variance parts are well estimated) and checks the power of
// CompareQuantiles with that many runs in 300 seeded experiments.
func TestPlanPowerSimulation(t *testing.T) {
	heavy(t)
	if testing.Short() {
		t.Skip("power simulation skipped under -short")
	}
	cases := []struct {
		f      family
		sigma  float64
		n      int
		p, chg float64
	}{
		{gridFamilies[2], 0.10, 300, 0.5, -0.20},
		{mixFamily(0.45), 0.05, 300, 0.9, -0.10},
		{gridFamilies[0], 0.05, 1000, 0.9, -0.10},
		{mixFamily(0.2), 0.10, 1000, 0.99, -0.20},
	}
	for k, c := range cases {
		G, m, pw, planned := planPower(t, c.f, c.sigma, c.n, c.p, c.chg, 300, 11+uint64(k))
		t.Logf("%s σ=%.2f pilot n=%d p%g change %+.0f%%: G=%d runs of %d requests, planned power %.3f, simulated %.3f", c.f.name, c.sigma, c.n, 100*c.p, 100*c.chg, G, m, planned, pw)
		// Runs planned for 80% power give 75-85% (binomial SE at 300 experiments: 2.3 points).
		if pw < 0.75 || pw > 0.85 || math.Abs(pw-planned) > 0.05 {
			t.Errorf("simulated power %.3f: want 0.75-0.85 and within 0.05 of the planned %.3f", pw, planned)
		}
	}
}

func TestVariationNeedsTwoRuns(t *testing.T) {
	r := newRand(1)
	if _, ok := EstimateVariation([][][]float64{gridRuns(r, gridFamilies[2], 1, 100, 0), gridRuns(r, gridFamilies[2], 3, 100, 0)}, 0.5, DefaultOptions()); ok {
		t.Error("one run in an arm: want not ok")
	}
	v, ok := EstimateVariation([][][]float64{gridRuns(r, gridFamilies[2], 3, 1000, 0.2), gridRuns(r, gridFamilies[2], 3, 1000, 0.2)}, 0.5, DefaultOptions())
	if !ok || v.DF != 4 || v.N != 1000 || v.Between <= 0 {
		t.Errorf("variation %+v ok %v", v, ok)
	}
	if g5, g20 := v.RunsNeeded(1000, 0.05, 0.8, 0.95, 1000), v.RunsNeeded(1000, 0.20, 0.8, 0.95, 1000); !(g5 > g20 && g20 >= 2) {
		t.Errorf("runs for 5%% %d, for 20%% %d: want more for the smaller change", g5, g20)
	}
}
