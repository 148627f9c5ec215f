package stats

import (
	"math"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func scaled(runs [][]float64, s float64) [][]float64 {
	out := make([][]float64, len(runs))
	for i, run := range runs {
		out[i] = make([]float64, len(run))
		for j, v := range run {
			out[i][j] = v * s
		}
	}
	return out
}

func lnRuns(seed uint64, G, n int, sb float64) [][]float64 {
	r := newRand(seed)
	runs := make([][]float64, G)
	for g := range runs {
		runs[g] = lognormal(r, n, sb*r.NormFloat64(), 1)
	}
	return runs
}

func TestCompareVerdicts(t *testing.T) {
	base5 := lnRuns(1, 5, 4000, 0)
	tests := []struct {
		name        string
		base, cand  [][]float64
		p           float64
		bf, cf      int
		higher      bool
		minRuns     int
		wantVerdict Verdict
		wantGrade   Grade
		wantMethod  string
		wantFlags   []string
		wantReasons []string
	}{
		{"planted 0.7x p50", base5, scaled(lnRuns(2, 5, 4000, 0), 0.7), 0.5, 0, 0, false, 0,
			VerdictBetter, GradeDecision, MethodUnion, []string{FlagMaterial}, nil},
		{"planted 0.7x p99", base5, scaled(lnRuns(2, 5, 4000, 0), 0.7), 0.99, 0, 0, false, 0,
			VerdictBetter, GradeDecision, MethodUnion, nil, nil},
		{"slower 1.4x p90", base5, scaled(lnRuns(3, 5, 4000, 0), 1.4), 0.9, 0, 0, false, 0,
			VerdictWorse, GradeDecision, MethodUnion, []string{FlagMaterial}, nil},
		{"throughput 1.4x higher is better", base5, scaled(lnRuns(3, 5, 4000, 0), 1.4), 0.5, 0, 0, true, 0,
			VerdictBetter, GradeDecision, MethodUnion, []string{FlagMaterial}, nil},
		{"same distribution p50", lnRuns(4, 5, 20000, 0), lnRuns(5, 5, 20000, 0), 0.5, 0, 0, false, 0,
			VerdictEquivalent, GradeDecision, MethodUnion, nil, nil},
		{"small real difference", lnRuns(6, 1, 400000, 0), scaled(lnRuns(7, 1, 400000, 0), 1.02), 0.5, 0, 0, false, 1,
			VerdictWorse, GradeProvisional, MethodIID, []string{FlagWithinMargin, "baseline:" + FlagSingleRun}, []string{"single run (baseline)", "single run (candidate)"}},
		{"single vs few, inconclusive", lnRuns(8, 1, 300, 0), lnRuns(9, 2, 150, 0), 0.9, 0, 0, false, 1,
			VerdictInconclusive, GradeProvisional, MethodTwoStage, []string{"candidate:" + FlagFewRuns},
			[]string{"single run (baseline)", "low tail count (30 < 50 requests beyond p90, baseline)", "few runs (2 < 3, candidate)", "low tail count (30 < 50 requests beyond p90, candidate)"}},
		{"insufficient tail", lnRuns(10, 1, 200, 0), lnRuns(11, 3, 2000, 0), 0.99, 0, 0, false, 0,
			VerdictInsufficient, GradeProvisional, MethodNone, []string{"baseline:" + FlagInsufficientData},
			[]string{"insufficient data", "single run (baseline)", "low tail count (2 < 50 requests beyond p99, baseline)"}},
		{"single runs refused by default", lnRuns(6, 1, 4000, 0), scaled(lnRuns(7, 1, 4000, 0), 0.7), 0.5, 0, 0, false, 0,
			VerdictInsufficient, GradeProvisional, MethodNone, []string{"baseline:" + FlagConditional}, []string{"insufficient data", "single run (baseline)", "single run (candidate)"}},
		{"too few runs for MinRuns", lnRuns(12, 2, 2000, 0), lnRuns(13, 3, 2000, 0), 0.5, 0, 0, false, 3,
			VerdictInsufficient, GradeProvisional, MethodNone, nil, []string{"insufficient data", "few runs (2 < 3, baseline)"}},
		{"censored tail", base5, scaled(lnRuns(2, 5, 4000, 0), 0.7), 0.99, 0, 20, false, 0,
			VerdictBetter, GradeProvisional, MethodUnion, []string{"candidate:" + FlagCensoredTail}, []string{"censored tail (candidate)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opt := DefaultOptions()
			opt.HigherIsBetter = tc.higher
			if tc.minRuns > 0 {
				opt.MinRuns = tc.minRuns
			}
			c := compareOne(tc.base, tc.cand, tc.p, tc.bf, tc.cf, opt)
			if c.Verdict != tc.wantVerdict || c.Grade != tc.wantGrade || c.Method != tc.wantMethod {
				t.Errorf("Compare = %v/%v/%s; want %v/%v/%s (ratio %.4f [%.4f, %.4f], flags %v, reasons %q)", c.Verdict, c.Grade, c.Method,
					tc.wantVerdict, tc.wantGrade, tc.wantMethod, c.Ratio, c.RatioLo, c.RatioHi, c.Flags, c.Reasons)
			}
			for _, f := range tc.wantFlags {
				if !slices.Contains(c.Flags, f) {
					t.Errorf("Flags = %v; want %s", c.Flags, f)
				}
			}
			if tc.wantReasons != nil {
				if diff := cmp.Diff(tc.wantReasons, c.Reasons); diff != "" {
					t.Errorf("Reasons mismatch (-want +got):\n%s", diff)
				}
			} else if len(c.Reasons) != 0 {
				t.Errorf("Reasons = %q; want none", c.Reasons)
			}
			if math.IsNaN(c.Ratio+c.RatioLo+c.RatioHi+c.Delta+c.DeltaLo+c.DeltaHi+c.PValue) || c.PValue < 0 || c.PValue > 1 {
				t.Errorf("bad numbers: %+v", c)
			}
			if c.Method != MethodNone && !(c.RatioLo <= c.Ratio && c.Ratio <= c.RatioHi && c.DeltaLo <= c.Delta && c.Delta <= c.DeltaHi) {
				t.Errorf("intervals do not bracket estimates: ratio %v [%v, %v], delta %v [%v, %v]", c.Ratio, c.RatioLo, c.RatioHi, c.Delta, c.DeltaLo, c.DeltaHi)
			}
			if wantDelta := c.Candidate.Value - c.Baseline.Value; c.Delta != wantDelta {
				t.Errorf("Delta = %v; want %v", c.Delta, wantDelta)
			}
			if c.Verdict == VerdictBetter || c.Verdict == VerdictWorse {
				if c.PValue >= 0.05 {
					t.Errorf("significant verdict with PValue %v", c.PValue)
				}
			}
		})
	}
}

// Compare's arms equal the stand-alone estimates (baseline: Stream, candidate: Stream+1),
// and the whole comparison is independent of the number of workers.
func TestCompareConsistency(t *testing.T) {
	base, cand := lnRuns(21, 3, 3000, 0.1), lnRuns(22, 4, 2500, 0.1)
	ps := []float64{0.5, 0.99}
	opt := DefaultOptions()
	opt.Stream = 40
	cs := CompareQuantiles(base, cand, ps, 0, 0, opt)
	eb := EstimateQuantiles(base, ps, 0, opt)
	opt.Stream++
	ec := EstimateQuantiles(cand, ps, 0, opt)
	opt.Stream--
	for i := range ps {
		if diff := cmp.Diff(eb[i], cs[i].Baseline); diff != "" {
			t.Errorf("p=%v Baseline mismatch (-estimate +compare):\n%s", ps[i], diff)
		}
		if diff := cmp.Diff(ec[i], cs[i].Candidate); diff != "" {
			t.Errorf("p=%v Candidate mismatch (-estimate +compare):\n%s", ps[i], diff)
		}
	}
	for _, w := range []int{1, 3} {
		opt.Workers = w
		if diff := cmp.Diff(cs, CompareQuantiles(base, cand, ps, 0, 0, opt)); diff != "" {
			t.Errorf("Workers=%d changed the comparison:\n%s", w, diff)
		}
	}
	if one := compareOne(base, cand, 0.99, 0, 0, opt); !cmp.Equal(one, cs[1]) {
		t.Errorf("compareOne(p99) differs from CompareQuantiles(...)[1]")
	}
}

func TestCompareNonPositive(t *testing.T) {
	r := newRand(5)
	base := [][]float64{make([]float64, 400)} // p50 of zeros
	for i := 300; i < 400; i++ {
		base[0][i] = 1
	}
	cand := [][]float64{lognormal(r, 400, 1, 0.2)}
	opt := DefaultOptions()
	opt.MinRuns = 1
	c := compareOne(base, cand, 0.5, 0, 0, opt)
	if !slices.Contains(c.Flags, FlagNonPositive) || c.Ratio != 0 || c.RatioLo != 0 || c.RatioHi != 0 {
		t.Errorf("flags %v ratio %v [%v, %v]; want NONPOSITIVE and zero ratios", c.Flags, c.Ratio, c.RatioLo, c.RatioHi)
	}
	if c.Verdict != VerdictWorse || !(c.DeltaLo > 0) {
		t.Errorf("verdict %v delta [%v, %v]; want worse from the delta interval", c.Verdict, c.DeltaLo, c.DeltaHi)
	}
}

func TestHolmAdjust(t *testing.T) {
	// R: p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm") = 0.03 0.06 0.06 0.02
	got := HolmAdjust([]float64{0.01, 0.04, 0.03, 0.005})
	want := []float64{0.03, 0.06, 0.06, 0.02}
	if !cmp.Equal(got, want, cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-12 })) {
		t.Errorf("HolmAdjust = %v; want %v", got, want)
	}
	if got := HolmAdjust([]float64{0.5, math.NaN(), 0.4}); got[0] != 1 || got[1] != 1 || got[2] != 1 {
		t.Errorf("HolmAdjust with NaN = %v; want [1 1 1]", got)
	}
	if got := HolmAdjust(nil); len(got) != 0 {
		t.Errorf("HolmAdjust(nil) = %v; want empty", got)
	}
}

func TestCounterDelta(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want float64
	}{
		{"monotone", []float64{100, 150, 150, 400}, 300},
		{"reset", []float64{0, 10, 20, 5, 15}, 35},
		{"reset to zero", []float64{50, 80, 0, 7}, 37},
		{"two resets", []float64{10, 30, 3, 9, 1}, 30},
		{"nan skipped", []float64{10, math.NaN(), 30, math.Inf(1), 35}, 25},
		{"single", []float64{42}, 0},
		{"empty", nil, 0},
	}
	for _, tc := range tests {
		if got := CounterDelta(tc.in); got != tc.want {
			t.Errorf("%s: CounterDelta(%v) = %v; want %v", tc.name, tc.in, got, tc.want)
		}
	}
}

func TestDescribe(t *testing.T) {
	for _, name := range []string{FlagInsufficientData, FlagLowTailCount, FlagSingleRun, FlagFewRuns, FlagRunHeterogeneity,
		FlagRunLevelUnavailable, FlagWithinRunCorrelation, FlagCensoredTail, FlagNonFiniteDropped, FlagEmptyRunDropped,
		FlagNonPositive, FlagMaterial, FlagWithinMargin, MethodIID, MethodTwoStage, MethodUnion, MethodRunLevel, MethodOrderStat, MethodNone} {
		if Describe(name) == "" {
			t.Errorf("Describe(%q) is empty", name)
		}
	}
	if Describe("candidate:"+FlagCensoredTail) != Describe(FlagCensoredTail) || Describe("NOPE") != "" {
		t.Errorf("Describe prefix or unknown handling wrong")
	}
}
