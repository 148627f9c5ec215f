package stats

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// RunMean summarises a run-level metric (one value per run, such as a
// run's throughput) by its mean over runs with a Student t interval. With
// one run the interval is not defined: Method is MethodNone with flag
// SINGLE_RUN. Non-finite values are dropped.
func RunMean(values []float64, opt Options) Estimate {
	opt = opt.normalized()
	v := finite(values)
	e := Estimate{Confidence: opt.Confidence, N: len(v), Runs: len(v), Method: MethodNone, PerRun: v, HeterogeneityP: 1}
	if len(v) == 0 {
		e.Flags = append(e.Flags, FlagInsufficientData)
		return e
	}
	m, s2 := meanVar(v)
	e.Value, e.Lo, e.Hi = m, m, m
	switch {
	case len(v) == 1:
		e.Flags = append(e.Flags, FlagSingleRun)
		return e
	case len(v) < recommendedRuns:
		e.Flags = append(e.Flags, FlagFewRuns)
	}
	hw := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(len(v) - 1)}.Quantile(1-(1-opt.Confidence)/2) * math.Sqrt(s2/float64(len(v)))
	e.Lo, e.Hi, e.Method = m-hw, m+hw, MethodRunT
	return e
}

// MethodRunT is a t interval over per-run values (run-level metrics).
const MethodRunT = "run_t"

// CompareRunMeans compares a run-level metric of two arms: the ratio of
// means with a Welch interval on per-run log values (a ratio of geometric
// means, which is what a multiplicative effect on throughput moves), and
// the difference of means with a Welch interval. It needs two runs per
// arm; otherwise the verdict is insufficient_data. Set opt.HigherIsBetter
// for throughput.
func CompareRunMeans(baseline, candidate []float64, opt Options) Comparison {
	opt = opt.normalized()
	b, c := RunMean(baseline, opt), RunMean(candidate, opt)
	out := Comparison{Baseline: b, Candidate: c, Delta: c.Value - b.Value, Method: MethodNone, PValue: 1}
	out.DeltaLo, out.DeltaHi = out.Delta, out.Delta
	if b.Value > 0 {
		out.Ratio = c.Value / b.Value
	}
	out.RatioLo, out.RatioHi = out.Ratio, out.Ratio
	bv, cv := positive(b.PerRun), positive(c.PerRun)
	if len(bv) < 2 || len(cv) < 2 || len(bv) != len(b.PerRun) || len(cv) != len(c.PerRun) {
		out.Verdict = VerdictInsufficient
		out.Grade = GradeProvisional
		out.Reasons = []string{fmt.Sprintf("run-level comparison needs two runs with positive values per arm (%d baseline, %d candidate)", len(bv), len(cv))}
		return out
	}
	_, dlo, dhi, _ := welch(b.PerRun, c.PerRun, opt.Confidence)
	out.DeltaLo, out.DeltaHi = dlo, dhi
	_, llo, lhi, p := welch(logs(bv), logs(cv), opt.Confidence)
	out.RatioLo, out.RatioHi, out.PValue = math.Exp(llo), math.Exp(lhi), p
	out.Method = MethodRunT
	out.Verdict = verdict(&out, true, opt)
	out.Grade, out.Reasons = GradeDecision, nil
	if len(bv) < decisionMinRuns || len(cv) < decisionMinRuns {
		out.Grade = GradeProvisional
		out.Reasons = append(out.Reasons, fmt.Sprintf("few runs (%d baseline, %d candidate; %d needed)", len(bv), len(cv), decisionMinRuns))
	}
	return out
}

func positive(x []float64) []float64 {
	out := make([]float64, 0, len(x))
	for _, v := range x {
		if v > 0 {
			out = append(out, v)
		}
	}
	return out
}
