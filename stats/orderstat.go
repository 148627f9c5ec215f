package stats

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/stat/distuv"
)

// osSampler draws exact bootstrap replicates of the type-7 quantile of one sorted
// i.i.d. sample in O(1) each: the k-th smallest of n resampled
// values is x(⌈n·U(k)⌉) with U(k) ~ Beta(k, n-k+1), and the next order statistic is
// U(k) + (1-U(k))·Beta(1, n-k).
type osSampler struct {
	xs   []float64
	n    int
	k    int
	g    float64
	a, b float64 // Beta(a, b) of the (k+1)-th (1-based) uniform order statistic
	b2   float64 // Beta(1, b2) for the gap to the next one
}

func newOSSampler(sorted []float64, p float64) osSampler {
	n := len(sorted)
	h := float64(n-1) * p
	k := int(math.Floor(h))
	if k > n-1 {
		k = n - 1
	}
	s := osSampler{xs: sorted, n: n, k: k, g: h - float64(k), a: float64(k + 1), b: float64(n - k)}
	if k+1 < n {
		s.b2 = float64(n - k - 1)
	}
	return s
}

func (s *osSampler) index(u float64) int {
	j := int(math.Ceil(float64(s.n)*u)) - 1
	return min(max(j, 0), s.n-1)
}

// draw returns one bootstrap replicate of the type-7 quantile.
func (s *osSampler) draw(r *rand.Rand) float64 {
	u1 := betaRand(r, s.a, s.b)
	x1 := s.xs[s.index(u1)]
	if s.g == 0 || s.k+1 >= s.n {
		return x1
	}
	u2 := u1 + (1-u1)*betaRand(r, 1, s.b2)
	return lerp(x1, s.xs[s.index(u2)], s.g)
}

// BootstrapQuantile returns B bootstrap replicates of the type-7 p-quantile of one
// i.i.d. sample (sorted ascending), drawn with the exact order-statistic sampler:
// same distribution as resampling indices with replacement, O(1) per replicate.
// Replicates come from streams derived from (seed, stream, p, block), in a fixed order
// whatever the number of workers (workers <= 0: GOMAXPROCS).
func BootstrapQuantile(sorted []float64, p float64, B int, seed, stream uint64, workers int) []float64 {
	if len(sorted) == 0 || B <= 0 || !(p >= 0 && p <= 1) {
		return nil
	}
	out := make([]float64, B)
	s := newOSSampler(sorted, p)
	key := streamKey{seed: seed, stream: stream, role: roleIID, p: p}
	fillBlocks(out, workers, key, func() func(*rand.Rand, []float64) {
		return func(r *rand.Rand, dst []float64) {
			for i := range dst {
				dst[i] = s.draw(r)
			}
		}
	})
	return out
}

// binomCDF returns P(Binomial(n, p) <= k).
func binomCDF(k, n int, p float64) float64 {
	if k < 0 {
		return 0
	}
	if k >= n {
		return 1
	}
	return distuv.Binomial{N: float64(n), P: p}.CDF(float64(k))
}

// OrderStatInterval returns the 1-based ranks (lo, hi) of the distribution-free,
// equal-tailed order-statistic confidence interval [x(lo), x(hi)] for the p-quantile
// of a continuous distribution from n i.i.d. observations: lo is the largest rank with
// P(Binomial(n, p) <= lo-1) <= (1-conf)/2 and hi the smallest with
// P(Binomial(n, p) >= hi) <= (1-conf)/2, so coverage is at least conf. ok is false when
// either bound falls outside the sample (n too small for a finite interval: the smallest
// n are 6, 36, 72 and 368 for p = 0.5, 0.9, 0.95, 0.99 at 95 %).
func OrderStatInterval(n int, p, conf float64) (lo, hi int, ok bool) {
	if n <= 0 || !(p > 0 && p < 1) || !(conf > 0 && conf < 1) {
		return 0, 0, false
	}
	a := (1 - conf) / 2
	// Start near the normal approximation and walk to the exact answer.
	sd := math.Sqrt(float64(n) * p * (1 - p))
	l := max(int(float64(n)*p-4*sd-2), 0)
	for l > 0 && binomCDF(l-1, n, p) > a {
		l--
	}
	for l < n && binomCDF(l, n, p) <= a { // CDF(l) <= a ⇒ rank l+1 still valid
		l++
	}
	u := min(int(float64(n)*p+4*sd+3), n+1)
	for u <= n && 1-binomCDF(u-1, n, p) > a { // P(B >= u) > a: move up
		u++
	}
	for u-1 >= 1 && 1-binomCDF(u-2, n, p) <= a {
		u--
	}
	lo, hi = l, u
	ok = lo >= 1 && hi <= n
	return lo, hi, ok
}

// OrderStatCoverage returns the exact coverage P(x(lo) <= ξp < x(hi)) =
// P(lo <= Binomial(n, p) <= hi-1) of the ranks returned by OrderStatInterval.
func OrderStatCoverage(n, lo, hi int, p float64) float64 {
	return binomCDF(hi-1, n, p) - binomCDF(lo-1, n, p)
}
