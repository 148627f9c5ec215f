package stats

import (
	"math"
	"slices"
)

// finite returns the values of x that are neither NaN nor infinite.
func finite(x []float64) []float64 {
	out := make([]float64, 0, len(x))
	for _, v := range x {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			out = append(out, v)
		}
	}
	return out
}

// HolmAdjust returns Holm–Bonferroni adjusted p-values in the input order
// (step-down: the i-th smallest p is multiplied by m−i+1, made monotone and capped at 1).
// NaN p-values are treated as 1.
func HolmAdjust(p []float64) []float64 {
	m := len(p)
	idx := make([]int, m)
	for i := range idx {
		idx[i] = i
	}
	val := func(i int) float64 {
		if math.IsNaN(p[i]) {
			return 1
		}
		return p[i]
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch va, vb := val(a), val(b); {
		case va < vb:
			return -1
		case va > vb:
			return 1
		}
		return 0
	})
	out := make([]float64, m)
	run := 0.0
	for rank, i := range idx {
		run = math.Max(run, math.Min(1, float64(m-rank)*val(i)))
		out[i] = run
	}
	return out
}
