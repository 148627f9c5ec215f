package stats

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// The coverage grid: families × run effects × runs × requests per run ×
// quantiles. The full grid is a command (see METHOD.md, "How sure the intervals are"):
//
//	cd stats && nice go test . -run 'TestCoverageGrid$' -v -timeout 0 \
//	    -args -grid-out testdata/coverage_grid.json -grid-reps 1000
//
// Without -grid-out TestCoverageGrid is skipped; TestCoverageGridCI runs the
// cells listed in testdata/coverage_grid_ci.json at their stated replication count.

var (
	gridOut    = flag.String("grid-out", "", "write the coverage grid table to this file (runs the full grid)")
	gridReps   = flag.Int("grid-reps", 1000, "replications per grid cell")
	gridFilter = flag.String("grid-filter", "", "only grid cells whose name contains this")
	gridFams   = flag.String("grid-families", "", "comma-separated families to run, in this order (default all)")
	gridNoTS   = flag.Bool("grid-no-twostage", false, "experiment: leave the paired bootstrap out of the comparisons' union")
)

// family is a within-run TTFT distribution with median scale 1-ish.
type family struct {
	name string
	draw func(r *rand.Rand) float64
	cdf  func(x float64) float64
}

// mixFamily is a two-mode mixture of log-normals 10× apart (log-sd 0.3 each):
// share fast in the fast mode (median 0.1), the rest in the slow mode (median 1).
func mixFamily(fast float64) family {
	return family{
		name: fmt.Sprintf("mix%.2f", fast),
		draw: func(r *rand.Rand) float64 {
			if r.Float64() < fast {
				return 0.1 * math.Exp(0.3*r.NormFloat64())
			}
			return math.Exp(0.3 * r.NormFloat64())
		},
		cdf: func(x float64) float64 {
			if x <= 0 {
				return 0
			}
			return fast*distuv.UnitNormal.CDF((math.Log(x)-math.Log(0.1))/0.3) + (1-fast)*distuv.UnitNormal.CDF(math.Log(x)/0.3)
		},
	}
}

func weibullFamily(k float64) family {
	return family{
		name: fmt.Sprintf("weibull%.1f", k),
		draw: func(r *rand.Rand) float64 { return math.Pow(-math.Log(1-r.Float64()), 1/k) },
		cdf: func(x float64) float64 {
			if x <= 0 {
				return 0
			}
			return 1 - math.Exp(-math.Pow(x, k))
		},
	}
}

var gridFamilies = []family{
	weibullFamily(0.7), weibullFamily(1.5),
	{name: "lognormal", draw: func(r *rand.Rand) float64 { return math.Exp(r.NormFloat64()) },
		cdf: func(x float64) float64 {
			if x <= 0 {
				return 0
			}
			return distuv.UnitNormal.CDF(math.Log(x))
		}},
	{name: "pareto2.5", draw: func(r *rand.Rand) float64 { return math.Pow(1-r.Float64(), -1/2.5) },
		cdf: func(x float64) float64 {
			if x <= 1 {
				return 0
			}
			return 1 - math.Pow(x, -2.5)
		}},
	mixFamily(0.2), mixFamily(0.45), mixFamily(0.8),
}

// marginalQuantile is the p-quantile of X·e^u, u ~ N(0, sigma²): the quantile
// over all requests of runs like these, which the pooled estimate targets.
func marginalQuantile(f family, sigma, p float64) float64 {
	const K = 801
	cdf := func(x float64) float64 {
		if sigma == 0 {
			return f.cdf(x)
		}
		var s, w float64
		for i := 0; i < K; i++ {
			z := -8 + 16*float64(i)/(K-1)
			wz := math.Exp(-z * z / 2)
			s += wz * f.cdf(x*math.Exp(-sigma*z))
			w += wz
		}
		return s / w
	}
	lo, hi := math.Log(1e-6), math.Log(1e6)
	for i := 0; i < 200; i++ {
		mid := (lo + hi) / 2
		if cdf(math.Exp(mid)) < p {
			lo = mid
		} else {
			hi = mid
		}
	}
	return math.Exp((lo + hi) / 2)
}

// gridRuns draws G runs of n requests with log-normal run effects.
func gridRuns(r *rand.Rand, f family, G, n int, sigma float64) [][]float64 {
	runs := make([][]float64, G)
	for g := range runs {
		u := math.Exp(sigma * r.NormFloat64())
		x := make([]float64, n)
		for i := range x {
			x[i] = u * f.draw(r)
		}
		runs[g] = x
	}
	return runs
}

// gridCell is one row of the coverage table.
type gridCell struct {
	Name   string  `json:"name"`
	Family string  `json:"family"`
	Sigma  float64 `json:"sigma"`
	Runs   int     `json:"runs"`
	N      int     `json:"n"`
	P      float64 `json:"p"`
	Reps   int     `json:"reps"`
	// Scope is the interval's scope in most replications (runs, conditional, none).
	Scope string `json:"scope"`
	// Coverage is over the replications whose interval was labelled ScopeRuns
	// (-1 when none was); CoverageAll over every replication with an interval.
	Coverage    float64 `json:"coverage"`
	CoverageAll float64 `json:"coverage_all"`
	ScopeRuns   float64 `json:"scope_runs_rate"`
	Insuff      float64 `json:"insufficient_rate"`
	// RelWidth is the median of (Hi−Lo)/truth over replications with an interval.
	RelWidth float64 `json:"rel_width"`
	// NullDirectional is the rate of better or worse verdicts when both arms come
	// from the same distribution, over comparisons that are not insufficient_data;
	// NullDecision the rate of decision-grade better or worse verdicts.
	NullDirectional float64 `json:"null_directional"`
	NullDecision    float64 `json:"null_decision"`
}

func cellName(f string, sigma float64, G, n int, p float64) string {
	return fmt.Sprintf("%s s%.2f G%d n%d p%g", f, sigma, G, n, 100*p)
}

// runGridCell simulates one (family, sigma, G, n) cell at R replications for every
// quantile in ps. seed separates cells.
// Note: over 80 lines would split the per-replication closure from its tallies,
// which share a dozen slices; kept together so each tally sits beside its source.
func runGridCell(f family, sigma float64, G, n int, ps []float64, R int, seed uint64) []gridCell {
	truth := make([]float64, len(ps))
	for j, p := range ps {
		truth[j] = marginalQuantile(f, sigma, p)
	}
	type rec struct {
		cover, hasCI, runs, insuff, nullOK, nullDir, nullDec bool
		width                                                float64
	}
	recs := make([][]rec, len(ps))
	for j := range recs {
		recs[j] = make([]rec, R)
	}
	simulate(R, func(i int) {
		r := newRand(seed*1_000_003 + uint64(i))
		X := gridRuns(r, f, G, n, sigma)
		Y := gridRuns(r, f, G, n, sigma)
		opt := simOptions(uint64(i) + 1)
		cmps := CompareQuantiles(X, Y, ps, 0, 0, opt)
		for j, c := range cmps {
			e := c.Baseline
			rc := &recs[j][i]
			rc.insuff = e.Method == MethodNone
			rc.hasCI = !rc.insuff
			rc.runs = e.Scope == ScopeRuns
			rc.cover = e.Lo <= truth[j] && truth[j] <= e.Hi
			rc.width = (e.Hi - e.Lo) / truth[j]
			rc.nullOK = c.Verdict != VerdictInsufficient
			rc.nullDir = c.Verdict == VerdictBetter || c.Verdict == VerdictWorse
			rc.nullDec = rc.nullDir && c.Grade == GradeDecision
		}
	})
	out := make([]gridCell, len(ps))
	for j, p := range ps {
		c := gridCell{Name: cellName(f.name, sigma, G, n, p), Family: f.name, Sigma: sigma, Runs: G, N: n, P: p, Reps: R, Coverage: -1, CoverageAll: -1}
		var cov, covAll, nRuns, nCI, nIns, nNull, nDir, nDec int
		var widths []float64
		for _, rc := range recs[j] {
			if rc.insuff {
				nIns++
			}
			if rc.hasCI {
				nCI++
				widths = append(widths, rc.width)
				if rc.cover {
					covAll++
				}
			}
			if rc.runs {
				nRuns++
				if rc.cover {
					cov++
				}
			}
			if rc.nullOK {
				nNull++
				if rc.nullDir {
					nDir++
				}
				if rc.nullDec {
					nDec++
				}
			}
		}
		frac := func(a, b int) float64 {
			if b == 0 {
				return -1
			}
			return float64(a) / float64(b)
		}
		c.Coverage, c.CoverageAll = frac(cov, nRuns), frac(covAll, nCI)
		c.ScopeRuns, c.Insuff = frac(nRuns, R), frac(nIns, R)
		c.NullDirectional, c.NullDecision = frac(nDir, nNull), frac(nDec, nNull)
		switch {
		case c.ScopeRuns >= 0.5:
			c.Scope = ScopeRuns
		case c.Insuff >= 0.5:
			c.Scope = ScopeNone
		default:
			c.Scope = ScopeConditional
		}
		if len(widths) > 0 {
			slices.Sort(widths)
			c.RelWidth = widths[len(widths)/2]
		}
		out[j] = c
	}
	return out
}

var (
	gridSigmas = []float64{0, 0.05, 0.10, 0.15}
	gridGs     = []int{1, 2, 3, 5, 10}
	gridNs     = []int{100, 300, 1000}
	gridPs     = []float64{0.5, 0.9, 0.99}
)

// gridFile is testdata/coverage_grid.json.
type gridFile struct {
	Command string     `json:"command"`
	Reps    int        `json:"reps_per_cell"`
	Note    string     `json:"note"`
	Cells   []gridCell `json:"cells"`
}

// TestCoverageGrid runs the full grid (or the cells matching -grid-filter) and
// writes the table to -grid-out. It prints one line per cell as it goes.
func TestCoverageGrid(t *testing.T) {
	if *gridOut == "" {
		t.Skip("the full coverage grid runs only with -grid-out (see METHOD.md)")
	}
	out := gridFile{
		Command: "cd stats && nice go test . -run 'TestCoverageGrid$' -v -timeout 0 -args -grid-out testdata/coverage_grid.json -grid-reps " + fmt.Sprint(*gridReps),
		Reps:    *gridReps,
	}
	unionTwoStage = !*gridNoTS
	defer func() { unionTwoStage = true }()
	fams := gridFamilies
	if *gridFams != "" {
		fams = nil
		for _, name := range strings.Split(*gridFams, ",") {
			i := slices.IndexFunc(gridFamilies, func(f family) bool { return f.name == name })
			if i < 0 {
				t.Fatalf("unknown family %q", name)
			}
			fams = append(fams, gridFamilies[i])
		}
	}
	for _, f := range fams {
		out.Cells = append(out.Cells, gridFamily(t, f, out)...)
	}
}

// gridFamily runs every cell of one family, writing the table after each.
func gridFamily(t *testing.T, f family, out gridFile) []gridCell {
	// Seeds depend on the family's place in gridFamilies, so any order or subset
	// of families gives the same cells.
	seed := uint64(slices.IndexFunc(gridFamilies, func(g family) bool { return g.name == f.name }) * 60)
	var cells []gridCell
	for _, s := range gridSigmas {
		for _, G := range gridGs {
			for _, n := range gridNs {
				seed++
				if *gridFilter != "" && !strings.Contains(cellName(f.name, s, G, n, 0.5), *gridFilter) {
					continue
				}
				cs := runGridCell(f, s, G, n, gridPs, *gridReps, seed)
				for _, c := range cs {
					t.Logf("%-32s scope %-11s cov %.3f (all %.3f) width %.3f insuff %.2f null %.3f dec %.3f", c.Name, c.Scope, c.Coverage, c.CoverageAll, c.RelWidth, c.Insuff, c.NullDirectional, c.NullDecision)
				}
				cells = append(cells, cs...)
				out.Cells = append(out.Cells, cs...)
				writeGrid(t, out) // after every cell, so a stopped run leaves its table
			}
		}
	}
	return cells
}

func writeGrid(t *testing.T, g gridFile) {
	sort.SliceStable(g.Cells, func(i, j int) bool { return false })
	b, err := json.MarshalIndent(g, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(*gridOut+".tmp", append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(*gridOut+".tmp", *gridOut); err != nil {
		t.Fatal(err)
	}
}

// TestCoverageGridCI runs the CI subset of the grid (testdata/coverage_grid_ci.json).
// It is skipped under -short and -race; plain go test runs it (about a minute on one core).
func TestCoverageGridCI(t *testing.T) {
	heavy(t)
	if testing.Short() {
		t.Skip("coverage grid subset skipped under -short")
	}
	var ci struct {
		Reps        int     `json:"reps"`
		MinCov      float64 `json:"min_cov"`
		MaxNull     float64 `json:"max_null"`
		MaxDecision float64 `json:"max_decision"`
		Cells       []struct {
			Family string  `json:"family"`
			Sigma  float64 `json:"sigma"`
			Runs   int     `json:"runs"`
			N      int     `json:"n"`
		} `json:"cells"`
	}
	loadJSON(t, "coverage_grid_ci.json", &ci)
	for k, c := range ci.Cells {
		i := slices.IndexFunc(gridFamilies, func(f family) bool { return f.name == c.Family })
		if i < 0 {
			t.Fatalf("unknown family %q", c.Family)
		}
		for _, g := range runGridCell(gridFamilies[i], c.Sigma, c.Runs, c.N, gridPs, ci.Reps, 7000+uint64(k)) {
			t.Logf("%-32s scope %-11s cov %.3f width %.3f null %.3f dec %.3f", g.Name, g.Scope, g.Coverage, g.RelWidth, g.NullDirectional, g.NullDecision)
			if g.Scope == ScopeRuns && g.Coverage < ci.MinCov {
				t.Errorf("%s: coverage %.3f of intervals labelled %g%% < %.3f", g.Name, g.Coverage, 95.0, ci.MinCov)
			}
			if g.NullDirectional > ci.MaxNull || g.NullDecision > ci.MaxDecision {
				t.Errorf("%s: null comparisons better/worse %.3f (max %.3f), decision-grade %.3f (max %.3f)", g.Name, g.NullDirectional, ci.MaxNull, g.NullDecision, ci.MaxDecision)
			}
		}
	}
}
