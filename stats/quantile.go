package stats

import "math"

// lerp is numpy's _lerp: a+(b-a)*t, computed as b-(b-a)*(1-t) when t >= 0.5.
// Note: the textbook (1-t)*a+t*b differs from numpy in the last ulp for some inputs,
// enough to break equality-based tests and tie counts; we follow numpy bit for bit.
func lerp(a, b, t float64) float64 {
	d := b - a
	if t >= 0.5 {
		return b - d*(1-t)
	}
	return a + d*t
}

// Quantile returns the Hyndman–Fan type 7 sample quantile (numpy's default "linear"
// method, R's default type 7) of sorted, which must be sorted in ascending order.
// It is bit-identical with numpy.quantile. Quantile(sorted, 0) is the minimum and
// Quantile(sorted, 1) the maximum. It returns NaN for an empty slice or p outside [0, 1].
func Quantile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 || !(p >= 0 && p <= 1) {
		return math.NaN()
	}
	h := float64(n-1) * p
	k := int(math.Floor(h))
	if k >= n-1 {
		return sorted[n-1]
	}
	return lerp(sorted[k], sorted[k+1], h-float64(k))
}
