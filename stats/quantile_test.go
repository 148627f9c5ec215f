package stats

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat"
)

type quantileCase struct {
	Name  string    `json:"name"`
	X     []float64 `json:"x"`
	Range int       `json:"range"`
	P     float64   `json:"p"`
	Type7 float64   `json:"type7"`
	Type1 float64   `json:"type1"`
	Type4 float64   `json:"type4"`
	// Type7RelTol, when set, replaces bit-exactness (see the case's note in the JSON).
	Type7RelTol float64 `json:"type7_rel_tol"`
}

func (c quantileCase) type7OK(got float64) bool {
	if c.Type7RelTol > 0 {
		return relErr(got, c.Type7) <= c.Type7RelTol
	}
	return got == c.Type7
}

func (c quantileCase) data() []float64 {
	if c.Range > 0 {
		x := make([]float64, c.Range)
		for i := range x {
			x[i] = float64(i + 1)
		}
		return x
	}
	return c.X
}

// type 7, bit-exact with numpy.
func TestQuantileType7Examples(t *testing.T) {
	var f struct{ Cases []quantileCase }
	loadJSON(t, "quantiles.json", &f)
	if len(f.Cases) < 10 {
		t.Fatalf("quantiles.json has %d cases; want 10", len(f.Cases))
	}
	for _, c := range f.Cases {
		t.Run(c.Name, func(t *testing.T) {
			x := c.data()
			if got := Quantile(sortedCopy(x), c.P); !c.type7OK(got) {
				t.Errorf("Quantile(%v, %v) = %v; want %v (bit-exact)", x, c.P, got, c.Type7)
			}
			if got := Quantile(sortedCopy(x), c.P); !c.type7OK(got) {
				t.Errorf("Quantile(sorted %v, %v) = %v; want %v", x, c.P, got, c.Type7)
			}
		})
	}
}

// gonum's Empirical (type 1) and LinInterp (type 4) reproduce the reference
// values, confirming the fixture, and differ from type 7 where the reference says they do.
func TestGonumCrossCheck(t *testing.T) {
	var f struct{ Cases []quantileCase }
	loadJSON(t, "quantiles.json", &f)
	for _, c := range f.Cases {
		t.Run(c.Name, func(t *testing.T) {
			x := sortedCopy(c.data())
			if got := stat.Quantile(c.P, stat.Empirical, x, nil); got != c.Type1 {
				t.Errorf("stat.Quantile(%v, Empirical) = %v; want %v", c.P, got, c.Type1)
			}
			if got := stat.Quantile(c.P, stat.LinInterp, x, nil); got != c.Type4 {
				t.Errorf("stat.Quantile(%v, LinInterp) = %v; want %v", c.P, got, c.Type4)
			}
		})
	}
	// Type 7 at the plotting positions p = k/(n-1) hits order statistics exactly, and between
	// them it is bracketed by the type-1 values at the neighbouring positions.
	r := rand.New(rand.NewPCG(3, 4))
	x := sortedCopy(lognormal(r, 257, 0, 1))
	for k := 0; k < len(x); k++ {
		p := float64(k) / float64(len(x)-1)
		if got := Quantile(x, p); got != x[k] {
			t.Fatalf("Quantile(x, %d/%d) = %v; want x[%d] = %v", k, len(x)-1, got, k, x[k])
		}
	}
	for i := 0; i < 1000; i++ {
		p := r.Float64()
		q := Quantile(x, p)
		h := float64(len(x)-1) * p
		lo, hi := x[int(math.Floor(h))], x[min(int(math.Floor(h))+1, len(x)-1)]
		if q < lo || q > hi {
			t.Fatalf("Quantile(x, %v) = %v outside [%v, %v]", p, q, lo, hi)
		}
	}
}

// endpoints and bad input.
func TestQuantileInvariants(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	s := sortedCopy(lognormal(r, 1001, 0, 1))
	if got := Quantile(s, 0); got != s[0] {
		t.Errorf("Quantile(x, 0) = %v; want min %v", got, s[0])
	}
	if got := Quantile(s, 1); got != s[len(s)-1] {
		t.Errorf("Quantile(x, 1) = %v; want max %v", got, s[len(s)-1])
	}
	if got := Quantile([]float64{7}, 0.99); got != 7 {
		t.Errorf("Quantile([7], 0.99) = %v; want 7", got)
	}
	for _, c := range []struct {
		name string
		x    []float64
		p    float64
	}{{"empty", nil, 0.5}, {"p<0", s, -0.1}, {"p>1", s, 1.1}, {"p NaN", s, math.NaN()}} {
		if got := Quantile(c.x, c.p); !math.IsNaN(got) {
			t.Errorf("%s: Quantile = %v; want NaN", c.name, got)
		}
	}
	if a, b := Quantile([]float64{1, 2, 3, 4}, 0.5), Quantile([]float64{1, 2, 3, 4}, 0.9); a != 2.5 || b != 3.7 {
		t.Errorf("Quantile([1 2 3 4], 0.5, 0.9) = %v, %v; want 2.5, 3.7", a, b)
	}
}

// numpy's lerp, not (1-t)a + tb, produces the reference 7.649999999999997 for example 2 at
// p = 0.95 (h computed at run time: 9·0.95 = 8.549999999999999).
func TestLerpIsNumpys(t *testing.T) {
	x := []float64{1, 1, 2, 3, 3, 4, 5, 5, 6, 9}
	n, p := len(x), 0.95
	h := float64(n-1) * p
	k := math.Floor(h)
	a, b, g := x[int(k)], x[int(k)+1], h-k
	if got, want := lerp(a, b, g), 7.649999999999997; got != want {
		t.Errorf("lerp(%v, %v, %v) = %v; want %v", a, b, g, got, want)
	}
}
