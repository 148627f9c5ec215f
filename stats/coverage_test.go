package stats

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// Coverage simulations. Every replication has its own seeded
// generator and its own bootstrap seed, so the results are deterministic; replications
// run in parallel, resampling inside each runs on one worker. Under -short the
// replication counts drop tenfold (see reps) and the bands widen to ±3.5 binomial SEs;
// under -race the simulations are skipped (see heavy).

type coverageFile struct {
	Truth map[string]map[string]float64 `json:"truth"`
	IID   []struct {
		Name      string  `json:"name"`
		Dist      string  `json:"dist"`
		N         int     `json:"n"`
		P         float64 `json:"p"`
		Reps      int     `json:"reps"`
		Reference float64 `json:"reference"`
		Lo        float64 `json:"lo"`
		Hi        float64 `json:"hi"`
	} `json:"iid"`
	Basic struct {
		Reps      int     `json:"reps"`
		Reference float64 `json:"reference"`
		Max       float64 `json:"max"`
	} `json:"basic_n1000_p99"`
	TwoSample []struct {
		Name      string  `json:"name"`
		Factor    float64 `json:"factor"`
		N         int     `json:"n"`
		P         float64 `json:"p"`
		Reps      int     `json:"reps"`
		Reference float64 `json:"reference_reject"`
		MaxReject float64 `json:"max_reject"`
		MinReject float64 `json:"min_reject"`
		CovLo     float64 `json:"cov_lo"`
		CovHi     float64 `json:"cov_hi"`
	} `json:"twosample"`
	Runs []struct {
		Name      string  `json:"name"`
		SB        float64 `json:"sb"`
		Rho       float64 `json:"rho"`
		G         int     `json:"G"`
		P         float64 `json:"p"`
		Reps      int     `json:"reps"`
		Reference float64 `json:"reference"`
		MinCov    float64 `json:"min_cov"`
		MaxFP     float64 `json:"max_fp"`
		MinQFlag  float64 `json:"min_qflag"`
		MaxPooled float64 `json:"max_pooled"`
		// MinCovDefault, when set, is the bound for the default options, which are
		// two-stage only in this cell (RUN_LEVEL_UNAVAILABLE); MinCov then applies to
		// RunLevelMinTail = 1 (the reference union).
		MinCovDefault float64 `json:"min_cov_default"`
	} `json:"runs"`
}

func (f coverageFile) truth(t *testing.T, dist string, p float64) float64 {
	v, ok := f.Truth[dist][strconv.FormatFloat(p, 'f', -1, 64)]
	if !ok {
		t.Fatalf("no truth for %s p=%v", dist, p)
	}
	return v
}

// simulate runs f for replications 0..R-1 in parallel.
func simulate(R int, f func(rep int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= R {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}

func mean(b []bool) float64 {
	c := 0
	for _, v := range b {
		if v {
			c++
		}
	}
	return float64(c) / float64(len(b))
}

func mixture(r *rand.Rand, n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		if r.Float64() < 0.2 {
			x[i] = math.Exp(0.5 * r.NormFloat64())
		} else {
			x[i] = math.Exp(math.Log(0.2) + 0.3*r.NormFloat64())
		}
	}
	return x
}

func simOptions(seed uint64) Options {
	opt := DefaultOptions()
	opt.Seed = seed
	opt.Workers = 1
	return opt
}

// single-sample percentile-bootstrap coverage within the band.
func TestCoverageIID(t *testing.T) {
	heavy(t)
	var f coverageFile
	loadJSON(t, "coverage.json", &f)
	for ci, c := range f.IID {
		t.Run(c.Name, func(t *testing.T) {
			R := reps(c.Reps)
			truth := f.truth(t, c.Dist, c.P)
			cover := make([]bool, R)
			below := make([]bool, R)
			simulate(R, func(i int) {
				r := newRand(uint64(100000*ci + i))
				var x []float64
				if c.Dist == "mixture" {
					x = mixture(r, c.N)
				} else {
					x = lognormal(r, c.N, 0, 1)
				}
				e := estimateOne([][]float64{x}, c.P, 0, simOptions(uint64(i)))
				cover[i] = e.Lo <= truth && truth <= e.Hi
				below[i] = e.Hi < truth
			})
			got := mean(cover)
			lo, hi := band(c.Lo, c.Hi, 0.95, R, c.Reps)
			t.Logf("coverage %.4f (R=%d; reference %.4f; band [%.3f, %.3f]); CI below truth %.4f", got, R, c.Reference, lo, hi, mean(below))
			if got < lo || got > hi {
				t.Errorf("coverage %.4f outside [%.3f, %.3f] (R=%d)", got, lo, hi, R)
			}
		})
	}
}

// (n = 200, p99) has a tail count of 2 and must be flagged, not interval-ed.
func TestCoverageInsufficientFlag(t *testing.T) {
	for i := 0; i < 50; i++ {
		e := estimateOne([][]float64{lognormal(newRand(uint64(i)), 200, 0, 1)}, 0.99, 0, simOptions(uint64(i)))
		if !slices.Contains(e.Flags, FlagInsufficientData) || e.Method != MethodNone {
			t.Fatalf("rep %d: flags %v method %s; want INSUFFICIENT_DATA, none", i, e.Flags, e.Method)
		}
	}
}

// the basic (reverse-percentile) interval undercovers at (n = 1000, p99), which
// is why the percentile interval is the default.
func TestCoverageBasicIsNotDefault(t *testing.T) {
	heavy(t)
	var f coverageFile
	loadJSON(t, "coverage.json", &f)
	R := reps(f.Basic.Reps)
	truth := f.truth(t, "lognormal", 0.99)
	basic := make([]bool, R)
	perc := make([]bool, R)
	simulate(R, func(i int) {
		xs := sortedCopy(lognormal(newRand(uint64(77000+i)), 1000, 0, 1))
		th := Quantile(xs, 0.99)
		lo, hi := sortedPercentiles(BootstrapQuantile(xs, 0.99, 9999, uint64(i), 0, 1), 0.025, 0.975)
		perc[i] = lo <= truth && truth <= hi
		basic[i] = 2*th-hi <= truth && truth <= 2*th-lo
	})
	b, p := mean(basic), mean(perc)
	t.Logf("n=1000 p99: basic %.4f (reference %.4f), percentile %.4f (R=%d)", b, f.Basic.Reference, p, R)
	_, maxB := band(0, f.Basic.Max, f.Basic.Max, R, f.Basic.Reps)
	if b > maxB {
		t.Errorf("basic coverage %.4f > %.3f", b, maxB)
	}
	if p-b < 0.04 {
		t.Errorf("percentile coverage %.4f not clearly above basic %.4f", p, b)
	}
}

// two independent single-run configurations; false positives under the null,
// coverage of the true ratio and power at 1.2x.
func TestCoverageTwoSample(t *testing.T) {
	heavy(t)
	var f coverageFile
	loadJSON(t, "coverage.json", &f)
	for ci, c := range f.TwoSample {
		t.Run(c.Name, func(t *testing.T) {
			R := reps(c.Reps)
			reject := make([]bool, R)
			cover := make([]bool, R)
			simulate(R, func(i int) {
				r := newRand(uint64(50000 + 1000*ci + i))
				a := lognormal(r, c.N, 0, 1)
				b := lognormal(r, c.N, math.Log(c.Factor), 1)
				opt := simOptions(uint64(i))
				opt.MinRuns = 1 // single-run comparisons, conditional on the runs
				cmp := compareOne([][]float64{a}, [][]float64{b}, c.P, 0, 0, opt)
				reject[i] = cmp.RatioHi < 1 || cmp.RatioLo > 1
				cover[i] = cmp.RatioLo <= c.Factor && c.Factor <= cmp.RatioHi
			})
			rj, cv := mean(reject), mean(cover)
			t.Logf("reject %.4f (reference %.3f), ratio coverage %.4f (R=%d)", rj, c.Reference, cv, R)
			se := func(q float64) float64 { return 3.5 * math.Sqrt(q*(1-q)/float64(R)) }
			if c.MaxReject > 0 {
				lim := c.MaxReject
				if R < c.Reps {
					lim = math.Max(lim, 0.05+se(0.05))
				}
				if rj > lim {
					t.Errorf("false-positive rate %.4f > %.3f", rj, lim)
				}
			}
			if c.MinReject > 0 {
				lim := c.MinReject
				if R < c.Reps {
					lim = math.Min(lim, c.MinReject-se(math.Min(c.MinReject, 0.99)))
				}
				if rj < lim {
					t.Errorf("power %.4f < %.3f", rj, lim)
				}
			}
			if c.CovLo > 0 {
				lo, hi := band(c.CovLo, c.CovHi, 0.95, R, c.Reps)
				if cv < lo || cv > hi {
					t.Errorf("ratio coverage %.4f outside [%.3f, %.3f]", cv, lo, hi)
				}
			}
		})
	}
}

// genRuns draws G runs of n requests: log TTFT = u_r + e_rj, u_r ~ N(0, sb²), e a
// stationary AR(1) with correlation rho and unit variance.
func genRuns(r *rand.Rand, G, n int, sb, rho float64) [][]float64 {
	runs := make([][]float64, G)
	for g := range runs {
		runs[g] = ar1Run(r, n, sb*r.NormFloat64(), rho)
	}
	return runs
}

// requests nested in runs (n_r = 500). Union coverage of the marginal
// quantile, false positives of the comparison, the pooled-i.i.d. failure the analyzer
// avoids, and the heterogeneity flag rate.
func TestCoverageRuns(t *testing.T) {
	heavy(t)
	var f coverageFile
	loadJSON(t, "coverage.json", &f)
	for ci, c := range f.Runs {
		t.Run(c.Name, func(t *testing.T) {
			R := reps(c.Reps)
			truth := math.Exp(distuv.UnitNormal.Quantile(c.P) * math.Sqrt(c.SB*c.SB+1))
			cover := make([]bool, R)
			coverDefault := make([]bool, R)
			pooled := make([]bool, R)
			qflag := make([]bool, R)
			flagsOK := make([]bool, R)
			fp := make([]bool, R)
			simulate(R, func(i int) {
				r := newRand(uint64(90000 + 1000*ci + i))
				X := genRuns(r, c.G, 500, c.SB, c.Rho)
				opt := simOptions(uint64(i))
				e := estimateOne(X, c.P, 0, opt)
				coverDefault[i] = e.Lo <= truth && truth <= e.Hi
				qflag[i] = slices.Contains(e.Flags, FlagRunHeterogeneity)
				// Since the run-level part needs only positive per-run quantiles
				// (RunLevelMinTail 1), every cell here is a union.
				wantMethod, unavailable := MethodRunLevel, false
				flagsOK[i] = slices.Contains(e.Flags, FlagFewRuns) == (c.G < 5) && e.Method == wantMethod &&
					slices.Contains(e.Flags, FlagRunLevelUnavailable) == unavailable
				cover[i] = coverDefault[i]
				if c.MinCovDefault > 0 {
					uopt := opt
					uopt.RunLevelMinTail = 1
					u := estimateOne(X, c.P, 0, uopt)
					cover[i] = u.Lo <= truth && truth <= u.Hi && u.Method == MethodRunLevel
				}
				if c.MaxPooled > 0 {
					pe := estimateOne([][]float64{slices.Concat(X...)}, c.P, 0, opt)
					pooled[i] = pe.Lo <= truth && truth <= pe.Hi
				}
				if c.MaxFP > 0 {
					Y := genRuns(r, c.G, 500, c.SB, c.Rho)
					cmp := compareOne(X, Y, c.P, 0, 0, opt)
					fp[i] = cmp.RatioHi < 1 || cmp.RatioLo > 1
				}
			})
			cv := mean(cover)
			msg := fmt.Sprintf("union coverage %.4f (reference %.3f)", cv, c.Reference)
			if c.MinCovDefault > 0 {
				msg = fmt.Sprintf("union coverage with RunLevelMinTail=1 %.4f (reference %.3f)", cv, c.Reference)
			}
			se := func(q float64) float64 { return 3.5 * math.Sqrt(q*(1-q)/float64(R)) }
			minCov := c.MinCov
			if R < c.Reps {
				minCov = math.Min(minCov, 0.95-se(0.95))
			}
			if cv < minCov {
				t.Errorf("union coverage %.4f < %.3f", cv, minCov)
			}
			if c.MinCovDefault > 0 {
				cd := mean(coverDefault)
				msg += fmt.Sprintf(", default (two-stage, RUN_LEVEL_UNAVAILABLE) coverage %.4f", cd)
				lim := c.MinCovDefault
				if R < c.Reps {
					lim = math.Min(lim, 0.93-se(0.93))
				}
				if cd < lim {
					t.Errorf("default two-stage coverage %.4f < %.3f", cd, lim)
				}
			}
			if mean(flagsOK) != 1 {
				t.Errorf("FEW_RUNS / RUN_LEVEL_UNAVAILABLE flags or method wrong in %.1f%% of replications", 100*(1-mean(flagsOK)))
			}
			if c.MaxFP > 0 {
				lim := c.MaxFP
				if R < c.Reps {
					lim = math.Max(lim, 0.05+se(0.05))
				}
				msg += fmt.Sprintf(", comparison false positives %.4f", mean(fp))
				if mean(fp) > lim {
					t.Errorf("false-positive rate %.4f > %.3f", mean(fp), lim)
				}
			}
			if c.MaxPooled > 0 {
				msg += fmt.Sprintf(", pooled iid coverage %.4f", mean(pooled))
				lim := c.MaxPooled
				if R < c.Reps {
					lim += se(lim)
				}
				if mean(pooled) > lim {
					t.Errorf("pooled i.i.d. coverage %.4f > %.3f: the regression guard cannot see the failure", mean(pooled), lim)
				}
			}
			if c.MinQFlag > 0 {
				msg += fmt.Sprintf(", RUN_HETEROGENEITY rate %.4f", mean(qflag))
				lim := c.MinQFlag
				if R < c.Reps {
					lim -= se(lim)
				}
				if mean(qflag) < lim {
					t.Errorf("RUN_HETEROGENEITY rate %.4f < %.3f", mean(qflag), lim)
				}
			}
			t.Logf("%s (R=%d)", msg, R)
		})
	}
}

// G = 1 is SINGLE_RUN, G = 2 is FEW_RUNS with a union interval (run-level
// part with one degree of freedom) and a computed Cochran's Q.
func TestRunCountFlags(t *testing.T) {
	r := newRand(7)
	e1 := estimateOne(genRuns(r, 1, 500, 0.15, 0), 0.5, 0, DefaultOptions())
	if !slices.Contains(e1.Flags, FlagSingleRun) || e1.Method != MethodIID || e1.HeterogeneityP != 1 {
		t.Errorf("G=1: %s %v Q p %v; want iid, SINGLE_RUN, no Q", e1.Method, e1.Flags, e1.HeterogeneityP)
	}
	e2 := estimateOne([][]float64{lognormal(r, 500, 0, 1), lognormal(r, 500, 0.8, 1)}, 0.5, 0, DefaultOptions())
	if !slices.Contains(e2.Flags, FlagFewRuns) || e2.Method != MethodRunLevel || !slices.Contains(e2.Flags, FlagRunHeterogeneity) || e2.HeterogeneityP >= 0.10 {
		t.Errorf("G=2, strong run effect: %s %v Q p %v; want union, FEW_RUNS, RUN_HETEROGENEITY", e2.Method, e2.Flags, e2.HeterogeneityP)
	}
}
