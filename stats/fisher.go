package stats

import "math"

// FisherGreater is the one-sided p-value of Fisher's exact test on the 2×2
// table [[a, b], [c, d]] that the first row's share of the first column,
// a/(a+b), exceeds the second row's, c/(c+d): the probability, under the
// hypergeometric law with the table's margins, of a first cell at least a.
// analyze uses it to ask whether the candidate arm changed more repeated
// answers than the baseline arm's own nondeterminism explains. Negative
// counts give NaN.
func FisherGreater(a, b, c, d int) float64 {
	if a < 0 || b < 0 || c < 0 || d < 0 {
		return math.NaN()
	}
	row, col, n := a+b, a+c, a+b+c+d
	hi := min(row, col)
	lnDenom := lnChoose(n, row)
	p := 0.0
	for x := a; x <= hi; x++ {
		p += math.Exp(lnChoose(col, x) + lnChoose(n-col, row-x) - lnDenom)
	}
	return min(p, 1)
}

// lnChoose is log C(n, k) for 0 ≤ k ≤ n.
func lnChoose(n, k int) float64 {
	if k < 0 || k > n {
		return math.Inf(-1)
	}
	ln := func(x int) float64 { v, _ := math.Lgamma(float64(x) + 1); return v }
	return ln(n) - ln(k) - ln(n-k)
}
