package stats

import (
	"math"
	"slices"
	"testing"
)

// quantileWithout equals the type-7 quantile of the pooled values without the run,
// with ties across and within runs.
func TestQuantileWithout(t *testing.T) {
	r := newRand(3)
	for rep := 0; rep < 200; rep++ {
		G := 2 + rep%5
		runs := make([][]float64, G)
		for g := range runs {
			runs[g] = make([]float64, 1+r.IntN(60))
			for i := range runs[g] {
				runs[g][i] = math.Round(10 * r.Float64() * float64(1+g)) // many ties
			}
		}
		s := prepare(runs)
		for _, p := range []float64{0, 0.1, 0.5, 0.9, 0.99, 1} {
			for g := range runs {
				var rest []float64
				for h, run := range runs {
					if h != g {
						rest = append(rest, run...)
					}
				}
				slices.Sort(rest)
				if got, want := s.quantileWithout(g, p), Quantile(rest, p); got != want {
					t.Fatalf("rep %d p %v without run %d: %v; want %v", rep, p, g, got, want)
				}
			}
		}
	}
}
