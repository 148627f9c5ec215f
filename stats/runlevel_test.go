package stats

import (
	"math"
	"testing"
)

func TestRunMean(t *testing.T) {
	// Reference: R t.test(c(10, 12, 11, 13))$conf.int = 9.445 .. 13.554
	e := RunMean([]float64{10, 12, 11, 13}, DefaultOptions())
	if e.Value != 11.5 || math.Abs(e.Lo-9.445739) > 1e-5 || math.Abs(e.Hi-13.554261) > 1e-5 || e.Method != MethodRunT {
		t.Errorf("RunMean = %+v", e)
	}
	if one := RunMean([]float64{5}, DefaultOptions()); one.Method != MethodNone || one.Value != 5 || !hasFlag(one.Flags, FlagSingleRun) {
		t.Errorf("single run: %+v", one)
	}
}

func TestCompareRunMeans(t *testing.T) {
	opt := DefaultOptions()
	opt.HigherIsBetter = true
	base := []float64{100, 104, 98, 101, 99}
	better := CompareRunMeans(base, []float64{130, 128, 133, 131, 129}, opt)
	if better.Verdict != VerdictBetter || better.Grade != GradeDecision || better.RatioLo <= 1 {
		t.Errorf("higher throughput: %+v", better)
	}
	same := CompareRunMeans(base, []float64{100.5, 101, 99.5, 100, 100.2}, opt)
	if same.Verdict != VerdictEquivalent {
		t.Errorf("same throughput: verdict %v ratio [%v, %v]", same.Verdict, same.RatioLo, same.RatioHi)
	}
	opt.HigherIsBetter = false
	if lat := CompareRunMeans(base, []float64{130, 128, 133, 131, 129}, opt); lat.Verdict != VerdictWorse {
		t.Errorf("lower is better: %v", lat.Verdict)
	}
	if one := CompareRunMeans([]float64{1}, []float64{2, 3}, opt); one.Verdict != VerdictInsufficient {
		t.Errorf("one baseline run: %v", one.Verdict)
	}
}

func hasFlag(flags []string, f string) bool {
	for _, x := range flags {
		if x == f {
			return true
		}
	}
	return false
}
