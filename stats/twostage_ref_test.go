package stats

import (
	"math"
	"math/rand/v2"
)

// replicateCounts is the O(N) reference implementation (multinomial counts per replicate): it
// materializes the multinomial counts per global position and scans them. Used in tests
// to check that the bridge has the same distribution.
func (pl *pooled) replicateCounts(r *rand.Rand, p float64, cnt []int32, m []int) float64 {
	G := len(pl.n)
	multiplicities(r, m)
	clear(cnt)
	M := 0
	for q := 0; q < G; q++ {
		draws := m[q] * pl.n[q]
		M += draws
		for d := 0; d < draws; d++ {
			cnt[pl.pos[q][r.IntN(pl.n[q])]]++
		}
	}
	h := float64(M-1) * p
	k := int(math.Floor(h))
	g := h - float64(k)
	if k >= M-1 {
		k, g = M-1, 0
	}
	c := 0
	v1, v2 := math.NaN(), math.NaN()
	for i, v := range cnt {
		c += int(v)
		if math.IsNaN(v1) && c > k {
			v1 = pl.vals[i]
		}
		if c > k+1 {
			v2 = pl.vals[i]
			break
		}
	}
	if g == 0 || math.IsNaN(v2) {
		return v1
	}
	return lerp(v1, v2, g)
}
