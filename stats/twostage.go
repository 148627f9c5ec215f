package stats

import (
	"math"
	"math/rand/v2"
	"slices"
)

// pooled holds G runs merged into one ascending order. Each run's members are
// identified by their global positions (ascending), which is all the two-stage
// bootstrap needs: a resample is a count per global position.
type pooled struct {
	vals []float64 // all values, ascending
	pos  [][]int32 // pos[r]: global positions of run r's values, ascending
	n    []int     // run sizes
}

// newPooled merges runs that are each already sorted ascending.
// Note: positions are int32 (4 bytes per request instead of 8), which caps one
// configuration at 2^31-1 requests — far above the 10 million rows of a whole campaign.
// Note: a linear scan over the G run heads is O(N·G); G is the number of benchmark runs
// (tens at most), so this beats a heap and a full re-sort of N (value, run) pairs.
func newPooled(sortedRuns [][]float64) *pooled {
	G := len(sortedRuns)
	N := 0
	pl := &pooled{pos: make([][]int32, G), n: make([]int, G)}
	for r, xs := range sortedRuns {
		pl.n[r] = len(xs)
		pl.pos[r] = make([]int32, 0, len(xs))
		N += len(xs)
	}
	pl.vals = make([]float64, 0, N)
	head := make([]int, G)
	for i := 0; i < N; i++ {
		best := -1
		for r := 0; r < G; r++ {
			if head[r] < pl.n[r] && (best < 0 || sortedRuns[r][head[r]] < sortedRuns[best][head[best]]) {
				best = r
			}
		}
		pl.vals = append(pl.vals, sortedRuns[best][head[best]])
		pl.pos[best] = append(pl.pos[best], int32(i))
		head[best]++
	}
	return pl
}

// leafSize is the width of the position range below which the bridge stops splitting
// and places the remaining draws directly.
// Note: once [a, b) is this narrow, the few draws left in it are cheaper to place one by
// one (each is uniform over its run's members in the range) than to split further with
// binomials; the distribution is unchanged.
const leafSize = 64

// tsScratch is per-goroutine scratch space for bridge replicates.
type tsScratch struct {
	m                  []int
	lo, hi, c, split   []int
	lo2, hi2, c2, xcnt []int
	leaf               []int
}

func newTSScratch(G int) *tsScratch {
	mk := func() []int { return make([]int, G) }
	return &tsScratch{m: mk(), lo: mk(), hi: mk(), c: mk(), split: mk(), lo2: mk(), hi2: mk(), c2: mk(), xcnt: mk(),
		leaf: make([]int, leafSize)}
}

// leafFill places the c[q] draws of each run uniformly on that run's members in [a, b)
// and returns the per-position counts (offset a).
func (pl *pooled) leafFill(r *rand.Rand, a, b int, lo, hi, c []int, leaf []int) []int {
	cnt := leaf[:b-a]
	clear(cnt)
	for q := range c {
		if c[q] == 0 {
			continue
		}
		w := hi[q] - lo[q]
		pos := pl.pos[q]
		for d := 0; d < c[q]; d++ {
			cnt[int(pos[lo[q]+r.IntN(w)])-a]++
		}
	}
	return cnt
}

// leafRank returns the offset of local rank rk in the leaf counts.
func leafRank(cnt []int, rk int) int {
	acc := 0
	for i, v := range cnt {
		acc += v
		if acc > rk {
			return i
		}
	}
	return len(cnt) - 1
}

// lowerBound returns the first index i in [lo, hi) with a[i] >= v (hi if none).
func lowerBound(a []int32, lo, hi int, v int32) int {
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if a[mid] < v {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// multiplicities draws run multiplicities m ~ Multinomial(G, 1/G) into m.
func multiplicities(r *rand.Rand, m []int) {
	clear(m)
	G := len(m)
	for i := 0; i < G; i++ {
		m[r.IntN(G)]++
	}
}

// replicate draws one two-stage bootstrap replicate of the pooled type-7 p-quantile:
// run multiplicities m ~ Multinomial(G, 1/G), then m_r·n_r draws with replacement from
// run r. Instead of materializing counts (O(N)), it descends the pooled order with a
// binomial bridge: given c_r resampled draws from run r in the
// global position range [a, b), the number in [a, mid) is
// Binomial(c_r, (#run r in [a, mid)) / (#run r in [a, b))). O(G·log N) per replicate,
// same distribution as the counts scan.
func (pl *pooled) replicate(r *rand.Rand, p float64, s *tsScratch) float64 {
	G := len(pl.n)
	multiplicities(r, s.m)
	M := 0
	for g := 0; g < G; g++ {
		s.c[g] = s.m[g] * pl.n[g]
		s.lo[g], s.hi[g] = 0, pl.n[g]
		M += s.c[g]
	}
	h := float64(M-1) * p
	k := int(math.Floor(h))
	g := h - float64(k)
	if k >= M-1 {
		k, g = M-1, 0
	}
	need2 := g != 0
	a, b := 0, len(pl.vals)
	rk, rk2 := k, k+1
	for b-a > 1 {
		if b-a <= leafSize {
			cnt := pl.leafFill(r, a, b, s.lo, s.hi, s.c, s.leaf)
			i1 := a + leafRank(cnt, rk)
			if !need2 {
				return pl.vals[i1]
			}
			return lerp(pl.vals[i1], pl.vals[a+leafRank(cnt, rk2)], g)
		}
		mid := int(uint(a+b) >> 1)
		L := 0
		for q := 0; q < G; q++ {
			if s.c[q] == 0 {
				s.xcnt[q] = 0
				continue
			}
			sp := lowerBound(pl.pos[q], s.lo[q], s.hi[q], int32(mid))
			s.split[q] = sp
			x := binomialRand(r, int64(s.c[q]), float64(sp-s.lo[q])/float64(s.hi[q]-s.lo[q]))
			s.xcnt[q] = int(x)
			L += int(x)
		}
		if need2 && rk < L && rk2 >= L {
			// The two ranks part here: rk lies left, rk2 is the first draw on the right.
			for q := 0; q < G; q++ {
				s.c2[q] = s.c[q] - s.xcnt[q]
				s.lo2[q], s.hi2[q] = s.hi[q], s.hi[q]
				if s.c[q] > 0 {
					s.lo2[q] = s.split[q]
					s.hi[q] = s.split[q]
				}
				s.c[q] = s.xcnt[q]
			}
			i1 := pl.descend(r, a, mid, rk, s.lo, s.hi, s.c, s.split, s.xcnt, s.leaf)
			i2 := pl.descend(r, mid, b, rk2-L, s.lo2, s.hi2, s.c2, s.split, s.xcnt, s.leaf)
			return lerp(pl.vals[i1], pl.vals[i2], g)
		}
		if rk < L {
			b = mid
			for q := 0; q < G; q++ {
				if s.c[q] > 0 {
					s.hi[q] = s.split[q]
					s.c[q] = s.xcnt[q]
				}
			}
		} else {
			a = mid
			rk -= L
			rk2 -= L
			for q := 0; q < G; q++ {
				if s.c[q] > 0 {
					s.lo[q] = s.split[q]
					s.c[q] -= s.xcnt[q]
				}
			}
		}
	}
	// Both ranks sit on position a (or only one rank is needed).
	return pl.vals[a]
}

// descend finds the global position of local rank rk within [a, b) given the per-run
// draw counts c in that range.
func (pl *pooled) descend(r *rand.Rand, a, b, rk int, lo, hi, c, split, xcnt, leaf []int) int {
	G := len(pl.n)
	for b-a > 1 {
		if b-a <= leafSize {
			return a + leafRank(pl.leafFill(r, a, b, lo, hi, c, leaf), rk)
		}
		mid := int(uint(a+b) >> 1)
		L := 0
		for q := 0; q < G; q++ {
			if c[q] == 0 {
				xcnt[q] = 0
				continue
			}
			sp := lowerBound(pl.pos[q], lo[q], hi[q], int32(mid))
			split[q] = sp
			x := int(binomialRand(r, int64(c[q]), float64(sp-lo[q])/float64(hi[q]-lo[q])))
			xcnt[q] = x
			L += x
		}
		if rk < L {
			b = mid
			for q := 0; q < G; q++ {
				if c[q] > 0 {
					hi[q] = split[q]
					c[q] = xcnt[q]
				}
			}
		} else {
			a = mid
			rk -= L
			for q := 0; q < G; q++ {
				if c[q] > 0 {
					lo[q] = split[q]
					c[q] -= xcnt[q]
				}
			}
		}
	}
	return a
}

// twoStageReplicates returns B two-stage replicates of the pooled p-quantile.
func (pl *pooled) twoStageReplicates(p float64, B int, key streamKey, workers int) []float64 {
	out := make([]float64, B)
	fillBlocks(out, workers, key, func() func(*rand.Rand, []float64) {
		s := newTSScratch(len(pl.n))
		return func(r *rand.Rand, dst []float64) {
			for i := range dst {
				dst[i] = pl.replicate(r, p, s)
			}
		}
	})
	return out
}

// sortedPercentiles sorts reps in place and returns its type-7 quantiles at lo and hi.
func sortedPercentiles(reps []float64, lo, hi float64) (float64, float64) {
	slices.Sort(reps)
	return Quantile(reps, lo), Quantile(reps, hi)
}
