package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// the golden-index fixture (numpy default_rng(0) indices) reproduces θ*
// and the percentile interval bit for bit: index resample → type-7 → type-7 percentile.
func TestGoldenIndex(t *testing.T) {
	var f struct {
		X     []float64 `json:"x"`
		Idx   [][]int   `json:"idx"`
		Cases []struct {
			Q        float64   `json:"q"`
			Theta    []float64 `json:"theta"`
			Lo       float64   `json:"lo"`
			Hi       float64   `json:"hi"`
			ThetaHat float64   `json:"theta_hat"`
		} `json:"cases"`
	}
	loadJSON(t, "golden_index.json", &f)
	for _, c := range f.Cases {
		theta := make([]float64, len(f.Idx))
		for b, row := range f.Idx {
			s := make([]float64, len(row))
			for i, j := range row {
				s[i] = f.X[j]
			}
			theta[b] = Quantile(sortedCopy(s), c.Q)
		}
		if !slices.Equal(theta, c.Theta) {
			t.Errorf("q=%v: theta* = %v; want %v", c.Q, theta, c.Theta)
		}
		lo, hi := sortedPercentiles(theta, 0.025, 0.975)
		if lo != c.Lo || hi != c.Hi {
			t.Errorf("q=%v: percentile CI = [%v, %v]; want [%v, %v]", c.Q, lo, hi, c.Lo, c.Hi)
		}
		if got := Quantile(sortedCopy(f.X), c.Q); got != c.ThetaHat {
			t.Errorf("q=%v: theta_hat = %v; want %v", c.Q, got, c.ThetaHat)
		}
	}
}

// indexReplicates is plain index resampling (the scipy pipeline) of the type-7 quantiles
// ps, one resample serving all ps: counts per sorted position, then a cumulative scan.
func indexReplicates(xs []float64, ps []float64, B int, r *rand.Rand) [][]float64 {
	n := len(xs)
	cnt := make([]int, n)
	out := make([][]float64, len(ps))
	for b := 0; b < B; b++ {
		clear(cnt)
		for i := 0; i < n; i++ {
			cnt[r.IntN(n)]++
		}
		for q, p := range ps {
			h := float64(n-1) * p
			k := int(math.Floor(h))
			c, v1, v2 := 0, math.NaN(), math.NaN()
			for i, ci := range cnt {
				c += ci
				if math.IsNaN(v1) && c > k {
					v1 = xs[i]
				}
				if c > k+1 {
					v2 = xs[i]
					break
				}
			}
			if math.IsNaN(v2) {
				v2 = v1
			}
			out[q] = append(out[q], lerp(v1, v2, h-float64(k)))
		}
	}
	return out
}

// the order-statistic sampler has the distribution of index resampling: KS p >
// 0.001 and the 2.5/97.5 % points agree within one atom (adjacent order statistic).
func TestOrderStatSamplerMatchesIndexResampling(t *testing.T) {
	B := 200000
	if raceEnabled || testing.Short() {
		B = 20000
	}
	xs := sortedCopy(lognormal(newRand(20240601), 1000, 0, 1))
	ps := []float64{0.5, 0.99}
	idx := indexReplicates(xs, ps, B, newRand(8))
	for q, p := range ps {
		os := BootstrapQuantile(xs, p, B, 7, 0, 0)
		d, pv := ks2(os, idx[q])
		if pv <= 0.001 {
			t.Errorf("p=%v: KS D=%.4f p=%.3g; want p > 0.001", p, d, pv)
		}
		for _, lvl := range []float64{0.025, 0.975} {
			a := Quantile(sortedCopy(os), lvl)
			b := Quantile(sortedCopy(idx[q]), lvl)
			ia, _ := slices.BinarySearch(xs, a)
			ib, _ := slices.BinarySearch(xs, b)
			if diff := ia - ib; diff > 1 || diff < -1 {
				t.Errorf("p=%v level %v: order-stat %v (rank %d) vs index %v (rank %d): more than one atom apart", p, lvl, a, ia, b, ib)
			}
		}
	}
}

func gridData(n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = math.Exp(distuv.UnitNormal.Quantile((float64(i+1) - 0.5) / float64(n)))
	}
	return x
}

// deterministic reference dataset x_i = exp(Φ⁻¹((i−0.5)/n)); type-7 values,
// percentile intervals with B = 9999 within tolerance of the B → ∞ reference, exact
// type-1 bootstrap ranks.
func TestGridReference(t *testing.T) {
	var f struct {
		DataChecks []struct {
			N   int     `json:"n"`
			X1  float64 `json:"x1"`
			XN  float64 `json:"xn"`
			Sum float64 `json:"sum"`
		} `json:"data_checks"`
		Cases []struct {
			N       int     `json:"n"`
			P       float64 `json:"p"`
			Type7   float64 `json:"type7"`
			RefLo   float64 `json:"ref_lo"`
			RefHi   float64 `json:"ref_hi"`
			ScipyLo float64 `json:"scipy_lo"`
			ScipyHi float64 `json:"scipy_hi"`
			Tol     float64 `json:"tol"`
		} `json:"cases"`
	}
	loadJSON(t, "grid_ci.json", &f)
	for _, dc := range f.DataChecks {
		x := gridData(dc.N)
		var sum float64
		for _, v := range x {
			sum += v
		}
		if relErr(x[0], dc.X1) > 1e-13 || relErr(x[dc.N-1], dc.XN) > 1e-13 || relErr(sum, dc.Sum) > 1e-12 {
			t.Errorf("grid n=%d: x1=%v xn=%v sum=%v; want %v %v %v", dc.N, x[0], x[dc.N-1], sum, dc.X1, dc.XN, dc.Sum)
		}
	}
	opt := DefaultOptions()
	for _, c := range f.Cases {
		x := gridData(c.N)
		for _, seed := range []uint64{1, 2, 3} {
			opt.Seed = seed
			e := estimateOne([][]float64{x}, c.P, 0, opt)
			if relErr(e.Value, c.Type7) > 1e-9 {
				t.Errorf("n=%d p=%v: Value = %.10f; want %.10f", c.N, c.P, e.Value, c.Type7)
			}
			if e.Method != MethodIID || !slices.Contains(e.Flags, FlagSingleRun) {
				t.Errorf("n=%d p=%v: Method %q Flags %v; want iid with SINGLE_RUN", c.N, c.P, e.Method, e.Flags)
			}
			if relErr(e.Lo, c.RefLo) > c.Tol || relErr(e.Hi, c.RefHi) > c.Tol {
				t.Errorf("n=%d p=%v seed=%d: CI [%.6f, %.6f]; want [%.6f, %.6f] ± %.1f%%", c.N, c.P, seed, e.Lo, e.Hi, c.RefLo, c.RefHi, 100*c.Tol)
			}
			// scipy's own B = 9999 interval is one more draw from the same distribution.
			if relErr(c.ScipyLo, c.RefLo) > c.Tol || relErr(c.ScipyHi, c.RefHi) > c.Tol {
				t.Errorf("fixture: scipy CI outside the tolerance of the reference for n=%d p=%v", c.N, c.P)
			}
		}
	}
}

// distribution-free order-statistic interval ranks and minimum sizes.
func TestOrderStatInterval(t *testing.T) {
	var f struct {
		Ranks []struct {
			N        int     `json:"n"`
			P        float64 `json:"p"`
			Lo       int     `json:"lo"`
			Hi       int     `json:"hi"`
			Coverage float64 `json:"coverage"`
		} `json:"ranks"`
		MinN []struct {
			P float64 `json:"p"`
			N int     `json:"n"`
		} `json:"min_n"`
	}
	loadJSON(t, "orderstat.json", &f)
	for _, c := range f.Ranks {
		lo, hi, ok := OrderStatInterval(c.N, c.P, 0.95)
		if !ok || lo != c.Lo || hi != c.Hi {
			t.Errorf("OrderStatInterval(%d, %v, 0.95) = (%d, %d, %v); want (%d, %d, true)", c.N, c.P, lo, hi, ok, c.Lo, c.Hi)
		}
		if cov := OrderStatCoverage(c.N, lo, hi, c.P); math.Abs(cov-c.Coverage) > 5e-5 {
			t.Errorf("OrderStatCoverage(%d, %d, %d, %v) = %.5f; want %.4f", c.N, lo, hi, c.P, cov, c.Coverage)
		}
	}
	for _, c := range f.MinN {
		if _, _, ok := OrderStatInterval(c.N, c.P, 0.95); !ok {
			t.Errorf("OrderStatInterval(%d, %v) not ok; want a finite interval", c.N, c.P)
		}
		if lo, hi, ok := OrderStatInterval(c.N-1, c.P, 0.95); ok {
			t.Errorf("OrderStatInterval(%d, %v) = (%d, %d, true); want no finite interval below n=%d", c.N-1, c.P, lo, hi, c.N)
		}
	}
	// Coverage is at least nominal wherever the interval exists.
	for _, n := range []int{6, 10, 37, 100, 368, 999, 2500} {
		for _, p := range []float64{0.5, 0.9, 0.99} {
			if lo, hi, ok := OrderStatInterval(n, p, 0.95); ok {
				if cov := OrderStatCoverage(n, lo, hi, p); cov < 0.95 {
					t.Errorf("n=%d p=%v: coverage %v < 0.95", n, p, cov)
				}
			}
		}
	}
	for _, bad := range []struct {
		n    int
		p, c float64
	}{{0, 0.5, 0.95}, {10, 0, 0.95}, {10, 1, 0.95}, {10, 0.5, 1}, {10, math.NaN(), 0.95}} {
		if _, _, ok := OrderStatInterval(bad.n, bad.p, bad.c); ok {
			t.Errorf("OrderStatInterval(%d, %v, %v) ok; want not ok", bad.n, bad.p, bad.c)
		}
	}
	// Single-run option reports it, with the achieved level.
	x := gridData(1000)
	opt := DefaultOptions()
	opt.SingleRunOrderStat = true
	e := estimateOne([][]float64{x}, 0.99, 0, opt)
	if e.Method != MethodOrderStat || e.Lo != x[982] || e.Hi != x[996] || math.Abs(e.Confidence-0.9761) > 5e-5 {
		t.Errorf("order_stat estimate = %s [%v, %v] conf %v; want order_stat [x(983), x(997)] = [%v, %v] conf 0.9761", e.Method, e.Lo, e.Hi, e.Confidence, x[982], x[996])
	}
}

// scale equivariance, permutation invariance, determinism whatever the number of
// workers, lo <= hi, NaN-free constant data.
func TestEstimateInvariants(t *testing.T) {
	r := newRand(11)
	single := [][]float64{lognormal(r, 3000, 0, 1)}
	multi := [][]float64{lognormal(r, 1500, 0, 1), lognormal(r, 1200, 0.1, 1), lognormal(r, 1800, -0.1, 1), lognormal(r, 1000, 0, 1.1)}
	ps := []float64{0.5, 0.9, 0.95, 0.99}
	scale := func(runs [][]float64, s float64) [][]float64 {
		out := make([][]float64, len(runs))
		for i, run := range runs {
			out[i] = make([]float64, len(run))
			for j, v := range run {
				out[i][j] = v * s
			}
		}
		return out
	}
	shuffle := func(runs [][]float64) [][]float64 {
		out := make([][]float64, len(runs))
		for i, run := range runs {
			out[i] = slices.Clone(run)
			r.Shuffle(len(out[i]), func(a, b int) { out[i][a], out[i][b] = out[i][b], out[i][a] })
		}
		return out
	}
	for _, tc := range []struct {
		name string
		runs [][]float64
	}{{"single", single}, {"multi", multi}} {
		t.Run(tc.name, func(t *testing.T) {
			opt := DefaultOptions()
			opt.Seed = 99
			opt.Workers = 1
			base := EstimateQuantiles(tc.runs, ps, 0, opt)
			for _, w := range []int{2, 3, 8} {
				opt.Workers = w
				if got := EstimateQuantiles(tc.runs, ps, 0, opt); !estimatesEqual(got, base) {
					t.Errorf("Workers=%d: estimates differ from Workers=1", w)
				}
			}
			opt.Workers = 0
			if got := EstimateQuantiles(shuffle(tc.runs), ps, 0, opt); !estimatesEqual(got, base) {
				t.Errorf("within-run permutation changed the estimates (interval or value)")
			}
			// Each quantile's streams are its own: asking for one quantile gives the same answer.
			if got := estimateOne(tc.runs, 0.99, 0, opt); !estimatesEqual([]Estimate{got}, base[3:]) {
				t.Errorf("estimateOne(p99) differs from EstimateQuantiles(...)[3]")
			}
			scaled := EstimateQuantiles(scale(tc.runs, 1000), ps, 0, opt)
			for i, e := range base {
				s := scaled[i]
				if relErr(s.Value, 1000*e.Value) > 1e-12 || relErr(s.Lo, 1000*e.Lo) > 1e-12 || relErr(s.Hi, 1000*e.Hi) > 1e-12 {
					t.Errorf("p=%v: ×1000 gives [%v, %v, %v]; want 1000×[%v, %v, %v]", e.P, s.Lo, s.Value, s.Hi, e.Lo, e.Value, e.Hi)
				}
				if !(e.Lo <= e.Hi) || e.Lo > e.Value || e.Hi < e.Value {
					t.Errorf("p=%v: interval [%v, %v] does not bracket %v", e.P, e.Lo, e.Hi, e.Value)
				}
			}
			opt.Seed = 100
			other := EstimateQuantiles(tc.runs, ps, 0, opt)
			if estimatesEqual(other, base) {
				t.Errorf("a different seed gave identical intervals")
			}
		})
	}
	// Wider at a higher confidence level.
	opt := DefaultOptions()
	e95 := estimateOne(multi, 0.9, 0, opt)
	opt.Confidence = 0.99
	e99 := estimateOne(multi, 0.9, 0, opt)
	if !(e99.Lo <= e95.Lo && e99.Hi >= e95.Hi && e99.Hi-e99.Lo > e95.Hi-e95.Lo) {
		t.Errorf("99%% interval [%v, %v] not wider than 95%% [%v, %v]", e99.Lo, e99.Hi, e95.Lo, e95.Hi)
	}
	// Constant data: CI = [c, c], nothing NaN.
	for _, runs := range [][][]float64{{constant(500, 2.5)}, {constant(500, 2.5), constant(400, 2.5), constant(600, 2.5)}} {
		for _, e := range EstimateQuantiles(runs, ps, 0, DefaultOptions()) {
			if e.Value != 2.5 || e.Lo != 2.5 || e.Hi != 2.5 || hasNaN(e) {
				t.Errorf("constant data, %d runs, p=%v: %+v; want Value=Lo=Hi=2.5", len(runs), e.P, e)
			}
		}
	}
}

func constant(n int, v float64) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = v
	}
	return x
}

func hasNaN(e Estimate) bool {
	for _, v := range []float64{e.Value, e.Lo, e.Hi, e.Confidence, e.P, e.HeterogeneityP, e.Autocorr} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return true
		}
	}
	for _, v := range e.PerRun {
		if math.IsNaN(v) {
			return true
		}
	}
	return false
}

func estimatesEqual(a, b []Estimate) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Value != y.Value || x.Lo != y.Lo || x.Hi != y.Hi || x.Method != y.Method || x.HeterogeneityP != y.HeterogeneityP ||
			!slices.Equal(x.Flags, y.Flags) || !slices.Equal(x.PerRun, y.PerRun) {
			return false
		}
	}
	return true
}

// The binomial-bridge two-stage sampler has the distribution of the O(N) counts scan
// (multinomial counts vs the binomial bridge), including ties across runs and unequal run sizes.
func TestTwoStageBridgeMatchesCounts(t *testing.T) {
	B := 40000
	if raceEnabled || testing.Short() {
		B = 8000
	}
	r := newRand(21)
	runs := [][]float64{lognormal(r, 40, 0, 1), lognormal(r, 75, 0.3, 1), lognormal(r, 120, -0.2, 0.8)}
	for i := range runs[1][:20] { // ties across runs
		runs[1][i] = math.Round(runs[1][i]*4) / 4
		runs[2][i] = math.Round(runs[2][i]*4) / 4
	}
	small := [][]float64{lognormal(r, 12, 0, 1), lognormal(r, 19, 0.5, 1)} // N = 31: leaf only
	for di, data := range [][][]float64{runs, small} {
		testBridge(t, data, B, uint64(di))
	}
}

func testBridge(t *testing.T, runs [][]float64, B int, salt uint64) {
	s := prepare(runs)
	for _, p := range []float64{0.5, 0.9, 0.99} {
		bridge := s.pl.twoStageReplicates(p, B, streamKey{seed: 5 + salt, role: roleTwoStage, p: p}, 0)
		rr := newRand(6 + salt)
		cnt := make([]int32, len(s.pl.vals))
		m := make([]int, len(runs))
		ref := make([]float64, B)
		for i := range ref {
			ref[i] = s.pl.replicateCounts(rr, p, cnt, m)
		}
		if d, pv := ks2(bridge, ref); pv <= 0.001 {
			t.Errorf("N=%d p=%v: bridge vs counts KS D=%.4f p=%.3g; want p > 0.001", len(s.all), p, d, pv)
		}
		mb, vb := meanVar(bridge)
		mr, vr := meanVar(ref)
		// Standard error of a sample variance: sqrt((m4 − s⁴)/B).
		seVar := func(x []float64, m, v float64) float64 {
			var m4 float64
			for _, y := range x {
				d := y - m
				m4 += d * d * d * d
			}
			m4 /= float64(len(x))
			return (m4 - v*v) / float64(len(x))
		}
		if math.Abs(mb-mr) > 5*math.Sqrt((vb+vr)/float64(B)) || math.Abs(vb-vr) > 5*math.Sqrt(seVar(bridge, mb, vb)+seVar(ref, mr, vr)) {
			t.Errorf("N=%d p=%v: bridge mean/var %v/%v vs counts %v/%v", len(s.all), p, mb, vb, mr, vr)
		}
	}
}

// binomialRand matches Binomial(n, p) moments and frequencies in both regimes
// (inversion and BTRS), and the beta sampler matches Beta moments.
func TestSamplers(t *testing.T) {
	r := newRand(31)
	draws := 200000.0
	if raceEnabled {
		draws = 50000
	}
	for _, c := range []struct {
		n int64
		p float64
	}{{5, 0.3}, {40, 0.1}, {200, 0.12}, {1000, 0.5}, {100000, 0.013}, {77, 0.93}, {3000000, 0.4999}} {
		counts := map[int64]int{}
		var sum, sum2 float64
		for i := 0; i < int(draws); i++ {
			k := binomialRand(r, c.n, c.p)
			if k < 0 || k > c.n {
				t.Fatalf("binomialRand(%d, %v) = %d out of range", c.n, c.p, k)
			}
			counts[k]++
			sum += float64(k)
			sum2 += float64(k) * float64(k)
		}
		mean := sum / draws
		v := sum2/draws - mean*mean
		wm, wv := float64(c.n)*c.p, float64(c.n)*c.p*(1-c.p)
		if math.Abs(mean-wm) > 5*math.Sqrt(wv/draws) || relErr(v, wv) > 0.03 {
			t.Errorf("binomialRand(%d, %v): mean %v var %v; want %v %v", c.n, c.p, mean, v, wm, wv)
		}
		// Chi-square over cells with expected count >= 20.
		bin := distuv.Binomial{N: float64(c.n), P: c.p}
		var chi float64
		cells := 0
		for k := int64(0); k <= c.n; k++ {
			e := draws * bin.Prob(float64(k))
			if e < 20 {
				if float64(k) > wm {
					break
				}
				continue
			}
			o := float64(counts[k])
			chi += (o - e) * (o - e) / e
			cells++
		}
		if cells > 1 {
			if pv := (distuv.ChiSquared{K: float64(cells - 1)}).Survival(chi); pv < 1e-4 {
				t.Errorf("binomialRand(%d, %v): chi2 %.1f on %d cells, p=%.2g", c.n, c.p, chi, cells, pv)
			}
		}
	}
	for _, c := range [][2]float64{{1, 1}, {3, 1}, {1, 7}, {2.5, 4}, {500, 501}, {990001, 10000}} {
		var sum, sum2 float64
		for i := 0; i < int(draws); i++ {
			u := betaRand(r, c[0], c[1])
			sum += u
			sum2 += u * u
		}
		a, b := c[0], c[1]
		wm := a / (a + b)
		wv := a * b / ((a + b) * (a + b) * (a + b + 1))
		mean := sum / draws
		v := sum2/draws - mean*mean
		if math.Abs(mean-wm) > 5*math.Sqrt(wv/draws) || relErr(v, wv) > 0.03 {
			t.Errorf("betaRand(%v, %v): mean %v var %v; want %v %v", a, b, mean, v, wm, wv)
		}
	}
}

var _ = rand.New
