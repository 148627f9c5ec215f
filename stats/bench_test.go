package stats

import (
	"fmt"
	"testing"
)

// order-statistic sampler, 9999 replicates of one percentile at n = 1e6 (after sorting).
func BenchmarkOrderStatSampler1e6(b *testing.B) {
	xs := sortedCopy(lognormal(newRand(1), 1_000_000, 0, 1))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		BootstrapQuantile(xs, 0.99, 9999, uint64(i), 0, 1)
	}
}

// Sorting 1e6 values, for scale.
func BenchmarkSort1e6(b *testing.B) {
	x := lognormal(newRand(1), 1_000_000, 0, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sortedCopy(x)
	}
}

// two-stage bootstrap, N = 1e6 requests in G = 5 runs, B = 2000, four percentiles.
// Reported per configuration (all four percentiles, Cochran's Q and run-level part
// included), single worker so ns/op is core time.
func BenchmarkTwoStage1e6G5B2000(b *testing.B) {
	r := newRand(2)
	runs := make([][]float64, 5)
	for g := range runs {
		runs[g] = lognormal(r, 200_000, 0.1*float64(g), 1)
	}
	opt := DefaultOptions()
	opt.Workers = 1
	ps := []float64{0.5, 0.9, 0.95, 0.99}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		opt.Seed = uint64(i)
		EstimateQuantiles(runs, ps, 0, opt)
	}
}

// The speed goal: 10 million request rows in groups, every group's four
// quantiles with intervals and every baseline-vs-candidate comparison, with 10 000
// resamples for every bootstrap (two-stage included). 10 groups × 2 arms × 5 runs ×
// 100 000 requests. Uses all GOMAXPROCS workers (run with -cpu 2 for the 2-core figure).
func BenchmarkTenMillionRows(b *testing.B) {
	const groups, runsPerArm, perRun = 10, 5, 100_000
	r := newRand(3)
	type group struct{ base, cand [][]float64 }
	gs := make([]group, groups)
	for g := range gs {
		for k := 0; k < runsPerArm; k++ {
			gs[g].base = append(gs[g].base, lognormal(r, perRun, 0.05*float64(k), 1))
			gs[g].cand = append(gs[g].cand, lognormal(r, perRun, 0.05*float64(k)-0.1, 1))
		}
	}
	opt := DefaultOptions()
	opt.Resamples, opt.TwoStageResamples = 10000, 10000
	ps := []float64{0.5, 0.9, 0.95, 0.99}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for g, grp := range gs {
			opt.Stream = uint64(2 * g)
			cs := CompareQuantiles(grp.base, grp.cand, ps, 0, 0, opt)
			if i == 0 && g == 0 {
				b.Log(fmt.Sprintf("group 0 p99: ratio %.3f [%.3f, %.3f] %v %s", cs[3].Ratio, cs[3].RatioLo, cs[3].RatioHi, cs[3].Verdict, cs[3].Method))
			}
		}
	}
}
