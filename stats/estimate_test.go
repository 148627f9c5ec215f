package stats

import (
	"math"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// ar1Run returns n values exp(u + e_j) with e a stationary AR(1) of lag-1 correlation rho
// and unit marginal variance.
func ar1Run(r interface{ NormFloat64() float64 }, n int, u, rho float64) []float64 {
	x := make([]float64, n)
	e := r.NormFloat64()
	s := math.Sqrt(1 - rho*rho)
	for j := range x {
		if j > 0 {
			e = rho*e + s*r.NormFloat64()
		}
		x[j] = math.Exp(u + e)
	}
	return x
}

func TestEstimateFlags(t *testing.T) {
	r := newRand(41)
	ln := func(n int) []float64 { return lognormal(r, n, 0, 1) }
	tests := []struct {
		name       string
		runs       [][]float64
		p          float64
		failures   int
		wantMethod string
		want       []string // flags that must be present
		wantNot    []string // flags that must be absent
		wantRuns   int
		wantN      int
	}{
		{"empty", nil, 0.5, 0, MethodNone, []string{FlagInsufficientData}, nil, 0, 0},
		{"empty runs", [][]float64{{}, {}}, 0.5, 0, MethodNone, []string{FlagInsufficientData, FlagEmptyRunDropped}, nil, 0, 0},
		{"n200 p99", [][]float64{ln(200)}, 0.99, 0, MethodNone, []string{FlagInsufficientData, FlagSingleRun}, nil, 1, 200},
		{"n999 p99", [][]float64{ln(999)}, 0.99, 0, MethodNone, []string{FlagInsufficientData}, nil, 1, 999},
		{"n1000 p99 low tail", [][]float64{ln(1000)}, 0.99, 0, MethodIID, []string{FlagLowTailCount, FlagSingleRun}, []string{FlagInsufficientData}, 1, 1000},
		{"n5000 p99", [][]float64{ln(5000)}, 0.99, 0, MethodIID, []string{FlagSingleRun}, []string{FlagLowTailCount}, 1, 5000},
		{"p01 lower tail counts too", [][]float64{ln(500)}, 0.01, 0, MethodNone, []string{FlagInsufficientData}, nil, 1, 500},
		{"censored", [][]float64{ln(5000)}, 0.99, 5, MethodIID, []string{FlagCensoredTail}, nil, 1, 5000},
		{"not censored", [][]float64{ln(5000)}, 0.99, 4, MethodIID, nil, []string{FlagCensoredTail}, 1, 5000},
		{"two runs", [][]float64{ln(800), ln(900)}, 0.5, 0, MethodRunLevel, []string{FlagFewRuns}, []string{FlagSingleRun, FlagRunLevelUnavailable, FlagConditional}, 2, 1700},
		{"three runs union", [][]float64{ln(800), ln(900), ln(700)}, 0.9, 0, MethodRunLevel, []string{FlagFewRuns}, []string{FlagRunLevelUnavailable}, 3, 2400},
		{"five runs", [][]float64{ln(800), ln(900), ln(700), ln(600), ln(500)}, 0.9, 0, MethodRunLevel, nil, []string{FlagFewRuns}, 5, 3500},
		{"few tail requests per run still run-level", [][]float64{ln(3000), ln(3000), ln(500)}, 0.99, 0, MethodRunLevel, nil, []string{FlagRunLevelUnavailable}, 3, 6500},
		{"run-level unavailable (nonpositive run quantile)", [][]float64{append(ln(3000), make([]float64, 3000)...), ln(3000), ln(500)}, 0.1, 0, MethodTwoStage, []string{FlagRunLevelUnavailable, FlagConditional, FlagNonPositive}, nil, 3, 9500},
		{"single run is conditional", [][]float64{ln(3000)}, 0.5, 0, MethodIID, []string{FlagConditional}, nil, 1, 3000},
		{"nan dropped", [][]float64{append(ln(100), math.NaN(), math.Inf(1))}, 0.5, 0, MethodIID, []string{FlagNonFiniteDropped}, nil, 1, 100},
		{"heterogeneous runs", [][]float64{lognormal(r, 2000, 0, 1), lognormal(r, 2000, 0.5, 1), lognormal(r, 2000, 1, 1)}, 0.5, 0, MethodRunLevel, []string{FlagRunHeterogeneity}, nil, 3, 6000},
		{"autocorrelated", [][]float64{ar1Run(r, 3000, 0, 0.9)}, 0.5, 0, MethodIID, []string{FlagWithinRunCorrelation}, nil, 1, 3000},
		{"independent", [][]float64{ln(3000)}, 0.5, 0, MethodIID, nil, []string{FlagWithinRunCorrelation}, 1, 3000},
		{"bad p", [][]float64{ln(100)}, math.NaN(), 0, MethodNone, []string{FlagInsufficientData}, nil, 1, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := estimateOne(tc.runs, tc.p, tc.failures, DefaultOptions())
			if e.Method != tc.wantMethod {
				t.Errorf("Method = %q; want %q (flags %v)", e.Method, tc.wantMethod, e.Flags)
			}
			for _, f := range tc.want {
				if !slices.Contains(e.Flags, f) {
					t.Errorf("Flags = %v; want %s", e.Flags, f)
				}
			}
			for _, f := range tc.wantNot {
				if slices.Contains(e.Flags, f) {
					t.Errorf("Flags = %v; do not want %s", e.Flags, f)
				}
			}
			if e.Runs != tc.wantRuns || e.N != tc.wantN {
				t.Errorf("Runs, N = %d, %d; want %d, %d", e.Runs, e.N, tc.wantRuns, tc.wantN)
			}
			if hasNaN(e) {
				t.Errorf("NaN in %+v", e)
			}
			if e.Method == MethodNone && (e.Lo != e.Value || e.Hi != e.Value) {
				t.Errorf("no interval: Lo, Hi = %v, %v; want Value %v", e.Lo, e.Hi, e.Value)
			}
			if e.N > 0 && !math.IsNaN(tc.p) {
				all := slices.Concat(tc.runs...)
				all = finite(all)
				if want := Quantile(sortedCopy(all), tc.p); e.Value != want {
					t.Errorf("Value = %v; want pooled type-7 %v", e.Value, want)
				}
			}
		})
	}
}

func TestEstimateFields(t *testing.T) {
	runs := [][]float64{{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21}, {2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40, 42}}
	e := estimateOne(runs, 0.5, 0, DefaultOptions())
	want := Estimate{Value: Quantile(sortedCopy(slices.Concat(runs...)), 0.5), Confidence: 0.95, P: 0.5, N: 42, Runs: 2, Tail: 21,
		Method: MethodRunLevel, Scope: ScopeRuns, PerRun: []float64{11, 22}}
	got := e
	got.Lo, got.Hi, got.Flags, got.HeterogeneityP, got.Autocorr = 0, 0, nil, 0, 0
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("EstimateQuantile mismatch (-want +got):\n%s", diff)
	}
	if !(e.Lo < e.Value && e.Value < e.Hi) {
		t.Errorf("interval [%v, %v] does not contain %v", e.Lo, e.Hi, e.Value)
	}
}

func TestDefaultOptions(t *testing.T) {
	want := Options{Confidence: 0.95, Resamples: 9999, TwoStageResamples: 2000, Seed: 1, Margin: 0.05, MinRuns: 2, RunLevelMinTail: 1}
	if diff := cmp.Diff(want, DefaultOptions()); diff != "" {
		t.Errorf("DefaultOptions() mismatch (-want +got):\n%s", diff)
	}
	// A zero Options behaves like the defaults (except seed).
	r := newRand(1)
	x := [][]float64{lognormal(r, 2000, 0, 1)}
	z := Options{Seed: 1}
	if a, b := estimateOne(x, 0.9, 0, z), estimateOne(x, 0.9, 0, DefaultOptions()); !estimatesEqual([]Estimate{a}, []Estimate{b}) {
		t.Errorf("zero Options = %+v; want the defaults' %+v", a, b)
	}
}
