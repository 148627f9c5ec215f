package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

// BenchmarkBootstrapJob is the job scripts/scipy_bootstrap_timing.py gives
// SciPy's stats.bootstrap: 95 % percentile intervals of p50, p90, p95 and
// p99 of 500,000 lognormal values (one arm, one run) with 10,000
// resamples, including the sort. Run side by side:
//
//	go test -run '^$' -bench BootstrapJob -benchtime 3x ./stats
//	/usr/bin/python3 scripts/scipy_bootstrap_timing.py
func BenchmarkBootstrapJob(b *testing.B) {
	rng := rand.New(rand.NewPCG(20240601, 1))
	x := make([]float64, 500_000)
	for i := range x {
		x[i] = math.Exp(rng.NormFloat64())
	}
	opt := DefaultOptions()
	opt.Resamples = 10_000
	ps := []float64{0.5, 0.9, 0.95, 0.99}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		data := append([]float64(nil), x...) // EstimateQuantiles sorts its own copy; keep input identical
		es := EstimateQuantiles([][]float64{data}, ps, 0, opt)
		if es[3].Lo >= es[3].Hi {
			b.Fatal("empty interval")
		}
	}
}
