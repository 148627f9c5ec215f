package stats

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// loadJSON decodes testdata/name into v.
func loadJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0xda3e39cb94b95bdb)) }

func lognormal(r *rand.Rand, n int, mu, sigma float64) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = math.Exp(mu + sigma*r.NormFloat64())
	}
	return x
}

func sortedCopy(x []float64) []float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	return s
}

func relErr(got, want float64) float64 {
	if want == 0 {
		return math.Abs(got)
	}
	return math.Abs(got-want) / math.Abs(want)
}

// ks2 returns the two-sample Kolmogorov–Smirnov statistic and its asymptotic p-value.
func ks2(a, b []float64) (d, p float64) {
	a, b = sortedCopy(a), sortedCopy(b)
	i, j := 0, 0
	na, nb := float64(len(a)), float64(len(b))
	for i < len(a) && j < len(b) {
		v := math.Min(a[i], b[j])
		for i < len(a) && a[i] == v {
			i++
		}
		for j < len(b) && b[j] == v {
			j++
		}
		d = math.Max(d, math.Abs(float64(i)/na-float64(j)/nb))
	}
	en := math.Sqrt(na * nb / (na + nb))
	lam := (en + 0.12 + 0.11/en) * d
	// Q_KS(λ) = 2 Σ (-1)^{k-1} exp(-2k²λ²)
	if lam < 0.2 {
		return d, 1
	}
	sum := 0.0
	for k := 1; k <= 100; k++ {
		term := 2 * math.Pow(-1, float64(k-1)) * math.Exp(-2*float64(k*k)*lam*lam)
		sum += term
		if math.Abs(term) < 1e-12 {
			break
		}
	}
	return d, math.Min(1, math.Max(0, sum))
}

// reps scales a full replication count down tenfold under -short.
func reps(full int) int {
	if testing.Short() {
		return max(full/10, 60)
	}
	return full
}

// heavy skips a coverage simulation under the race detector, which makes the numerics
// 10–20x slower (about 150 s even at a tenth of the replications). The parallel code
// paths stay covered under -race by TestEstimateInvariants and TestCompareConsistency
// (1 to 8 workers); the plain `go test ./stats/` runs the simulations at full size.
func heavy(t *testing.T) {
	t.Helper()
	if raceEnabled {
		t.Skip("coverage simulation skipped under -race (run go test ./stats/ without -race)")
	}
}

// band widens [lo, hi] for a reduced replication count: at the full count the stated
// band is used; otherwise nominal ± 3.5 binomial SEs, never narrower than stated.
func band(lo, hi float64, nominal float64, r, full int) (float64, float64) {
	if r >= full {
		return lo, hi
	}
	se := math.Sqrt(nominal * (1 - nominal) / float64(r))
	return math.Min(lo, nominal-3.5*se), math.Max(hi, nominal+3.5*se)
}

// estimateOne estimates one quantile.
func estimateOne(runs [][]float64, p float64, failures int, opt Options) Estimate {
	return EstimateQuantiles(runs, []float64{p}, failures, opt)[0]
}

// compareOne compares one quantile.
func compareOne(baseline, candidate [][]float64, p float64, baseFailures, candFailures int, opt Options) Comparison {
	return CompareQuantiles(baseline, candidate, []float64{p}, baseFailures, candFailures, opt)[0]
}
