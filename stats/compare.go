package stats

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// Verdict is the outcome of a Comparison (candidate vs baseline). It is a
// number, not a word: the words that name verdicts in reports belong to
// the caller.
type Verdict int

// Verdicts of a Comparison. The zero value is VerdictInsufficient.
const (
	VerdictInsufficient Verdict = iota // an arm has too few requests beyond the quantile or too few runs
	VerdictBetter                      // the candidate is better: ratio interval excludes 1 on the good side
	VerdictWorse                       // the candidate is worse: ratio interval excludes 1 on the bad side
	VerdictEquivalent                  // ratio interval inside [1-margin, 1+margin] and containing 1
	VerdictInconclusive                // none of the above
)

// Grade says whether a Comparison is strong enough to decide on.
type Grade int

// Grades of a Comparison. The zero value is GradeProvisional.
const (
	GradeProvisional Grade = iota // anything less than decision-grade; Comparison.Reasons says why
	GradeDecision                 // both arms >= 3 runs and tail >= 50, no censored tail, heterogeneity covered
)

// decisionMinRuns and decisionMinTail are the decision-grade thresholds: a
// verdict is decision-grade from three runs and 50 requests beyond the
// quantile per arm; five runs are recommended.
const (
	decisionMinRuns = 3
	decisionMinTail = 50
	recommendedRuns = 5
)

// Comparison compares the p-quantile of a candidate configuration with a baseline.
// Ratio is candidate/baseline and Delta is candidate − baseline (pooled type-7 values);
// their intervals are percentile intervals of paired bootstrap replicates, widened to the
// union with a run-level Welch interval when both arms have union intervals (two runs or more).
// Decisions use the ratio interval only; the delta interval is descriptive. No
// float field is NaN: ratio fields are 0 when a quantile is not positive (flag NONPOSITIVE).
type Comparison struct {
	P                       float64
	Baseline, Candidate     Estimate
	Delta, DeltaLo, DeltaHi float64
	Ratio, RatioLo, RatioHi float64
	// PValue is the two-sided p-value for "no difference": the bootstrap test-inversion
	// p, or the larger of it and the Welch p when the run-level part is used (1 when there
	// is no interval).
	PValue  float64
	Verdict Verdict
	Grade   Grade
	// Flags holds comparison flags (MATERIAL, WITHIN_MARGIN, NONPOSITIVE) and, prefixed
	// with "baseline:" or "candidate:", the flags of each arm.
	Flags []string
	// Reasons says, in words, why the grade is provisional (empty when decision-grade).
	Reasons []string
	Method  string // MethodIID, MethodTwoStage, MethodUnion or MethodNone
}

// CompareQuantiles compares the ps-quantiles of candidate runs with baseline runs,
// preparing (sorting) each arm once. baseFailures and candFailures count failed requests
// per arm (for CENSORED_TAIL). The baseline is resampled with stream opt.Stream and the
// candidate with opt.Stream+1, so each Comparison.Baseline equals the EstimateQuantiles
// estimate of the baseline with the same options, and Comparison.Candidate the
// candidate's with Stream+1.
//
// Verdict rules (lower is better unless opt.HigherIsBetter): VerdictInsufficient when an
// arm is INSUFFICIENT_DATA or has fewer than opt.MinRuns runs; otherwise better or worse
// when the ratio interval excludes 1 (flag MATERIAL when it also lies beyond 1 ± margin,
// WITHIN_MARGIN when it lies inside), equivalent when it lies inside [1-margin, 1+margin],
// else inconclusive. Grade is GradeDecision only when both arms have at least 3 runs and
// a tail count of at least 50, no arm has a censored tail, and no run heterogeneity is
// left uncovered by a run-level interval; Reasons lists what is missing otherwise.
func CompareQuantiles(baseline, candidate [][]float64, ps []float64, baseFailures, candFailures int, opt Options) []Comparison {
	opt = opt.normalized()
	sb, sc := prepare(baseline), prepare(candidate)
	out := make([]Comparison, len(ps))
	for i, p := range ps {
		out[i] = compare(sb, sc, p, baseFailures, candFailures, opt)
	}
	return out
}

func compare(sb, sc *sample, p float64, bf, cf int, opt Options) (c Comparison) {
	eb, rb := sb.estimate(p, bf, opt, opt.Stream)
	ec, rc := sc.estimate(p, cf, opt, opt.Stream+1)
	c = Comparison{P: eb.P, Baseline: eb, Candidate: ec, PValue: 1, Method: MethodNone, Verdict: VerdictInsufficient}
	c.Delta = ec.Value - eb.Value
	c.DeltaLo, c.DeltaHi = c.Delta, c.Delta
	positive := eb.Value > 0 && ec.Value > 0
	if positive {
		c.Ratio = ec.Value / eb.Value
		c.RatioLo, c.RatioHi = c.Ratio, c.Ratio
	} else if eb.N > 0 && ec.N > 0 {
		c.Flags = append(c.Flags, FlagNonPositive)
	}
	defer func() {
		for _, f := range eb.Flags {
			c.Flags = append(c.Flags, "baseline:"+f)
		}
		for _, f := range ec.Flags {
			c.Flags = append(c.Flags, "candidate:"+f)
		}
		c.Grade, c.Reasons = grade(c, opt)
	}()
	if eb.Method == MethodNone || ec.Method == MethodNone || eb.Runs < opt.MinRuns || ec.Runs < opt.MinRuns {
		return c
	}

	ratioOK := c.pairReplicates(rb, rc, positive, opt.Confidence)
	c.Method = MethodTwoStage
	if eb.Runs == 1 && ec.Runs == 1 {
		c.Method = MethodIID
	}

	// Run-level part: Welch intervals on per-run (log) quantiles and on the
	// jackknife variances, centred on the pooled log ratio (as runSpreadInterval is for one arm).
	if ratioOK && eb.Method == MethodRunLevel && ec.Method == MethodRunLevel {
		c.runLevel(sb, sc, p, opt.Confidence)
	}
	c.Verdict = verdict(&c, ratioOK, opt)
	return c
}

// runLevel widens the ratio and delta intervals to the run-level parts and
// raises the p-value to theirs: a Welch interval on per-run log quantiles and
// one with the delete-one-run jackknife variances of each arm, both centred on
// the pooled log ratio.
func (c *Comparison) runLevel(sb, sc *sample, p, conf float64) {
	y1, y2 := logs(c.Baseline.PerRun), logs(c.Candidate.PerRun)
	_, v1 := meanVar(y1)
	_, v2 := meanVar(y2)
	n1, n2 := float64(len(y1)), float64(len(y2))
	parts := [][2]float64{{v1 / n1, v2 / n2}}
	if j1, _, ok1 := sb.jackknifeVar(p); ok1 {
		if j2, _, ok2 := sc.jackknifeVar(p); ok2 {
			parts = append(parts, [2]float64{j1, j2})
		}
	}
	d := math.Log(c.Ratio)
	if !unionTwoStage {
		c.RatioLo, c.RatioHi = c.Ratio, c.Ratio
		c.PValue = 0
	}
	for _, s := range parts {
		hw, pw := welchParts(d, s[0], s[1], n1, n2, conf)
		c.RatioLo, c.RatioHi = math.Min(c.RatioLo, c.Ratio*math.Exp(-hw)), math.Max(c.RatioHi, c.Ratio*math.Exp(hw))
		c.PValue = math.Max(c.PValue, pw)
	}
	_, dlo, dhi, _ := welch(c.Baseline.PerRun, c.Candidate.PerRun, conf)
	c.DeltaLo, c.DeltaHi = math.Min(c.DeltaLo, dlo), math.Max(c.DeltaHi, dhi)
	c.Method = MethodUnion
}

// welchParts returns the half-width of a Welch–Satterthwaite interval for a
// difference d with squared standard errors s1 and s2 from n1 and n2 runs, and
// the two-sided p-value of d = 0.
func welchParts(d, s1, s2, n1, n2, conf float64) (hw, p float64) {
	se := math.Sqrt(s1 + s2)
	if se == 0 {
		if d == 0 {
			return 0, 1
		}
		return 0, 0
	}
	df := (s1 + s2) * (s1 + s2) / (s1*s1/(n1-1) + s2*s2/(n2-1))
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}
	return t.Quantile(1-(1-conf)/2) * se, math.Min(1, 2*t.Survival(math.Abs(d)/se))
}

// pairReplicates sets the bootstrap p-value and the delta and ratio
// intervals from replicate i of the candidate paired with replicate i of
// the baseline. It reports whether the ratio interval exists (every paired
// replicate positive).
// Note: when one arm has a single run (9999 order-statistic replicates) and the other
// several (2000 two-stage replicates), the first 2000 of each are paired; the
// replicate blocks are independent streams, so any prefix is a valid set of replicates.
func (c *Comparison) pairReplicates(rb, rc []float64, positive bool, confidence float64) bool {
	B := min(len(rb), len(rc))
	alpha := (1 - confidence) / 2
	d := make([]float64, B)
	var le, ge int
	for i := 0; i < B; i++ {
		d[i] = rc[i] - rb[i]
		if d[i] <= 0 {
			le++
		}
		if d[i] >= 0 {
			ge++
		}
	}
	c.PValue = math.Min(1, 2*float64(min(le, ge))/float64(B))
	c.DeltaLo, c.DeltaHi = sortedPercentiles(d, alpha, 1-alpha)
	if !positive {
		return false
	}
	lr := make([]float64, B)
	for i := 0; i < B; i++ {
		if !(rb[i] > 0 && rc[i] > 0) {
			c.Ratio, c.RatioLo, c.RatioHi = 0, 0, 0
			c.Flags = append(c.Flags, FlagNonPositive)
			return false
		}
		lr[i] = math.Log(rc[i]) - math.Log(rb[i])
	}
	lo, hi := sortedPercentiles(lr, alpha, 1-alpha)
	c.RatioLo, c.RatioHi = math.Exp(lo), math.Exp(hi)
	return true
}

// verdict applies the decision rule to the ratio interval (or, without ratios, to the
// sign of the delta interval).
func verdict(c *Comparison, ratioOK bool, opt Options) Verdict {
	goodLow := !opt.HigherIsBetter
	pick := func(below bool) Verdict {
		if below == goodLow {
			return VerdictBetter
		}
		return VerdictWorse
	}
	if !ratioOK {
		switch {
		case c.DeltaHi < 0:
			return pick(true)
		case c.DeltaLo > 0:
			return pick(false)
		}
		return VerdictInconclusive
	}
	m := opt.Margin
	lo, hi := c.RatioLo, c.RatioHi
	inside := lo >= 1-m && hi <= 1+m
	switch {
	case hi < 1 || lo > 1:
		if hi < 1-m || lo > 1+m {
			c.Flags = append(c.Flags, FlagMaterial)
		} else if inside {
			c.Flags = append(c.Flags, FlagWithinMargin)
		}
		return pick(hi < 1)
	case inside:
		return VerdictEquivalent
	}
	return VerdictInconclusive
}

// grade returns the grade and the reasons it is provisional. A better or worse
// verdict is decision-grade only when its p-value is below (1-confidence)/2 as
// well, so that null comparisons give decision-grade false verdicts at most
// 2.5% of the time at 95%.
func grade(c Comparison, opt Options) (Grade, []string) {
	var reasons []string
	if c.Verdict == VerdictInsufficient {
		reasons = append(reasons, "insufficient data")
	}
	if a := (1 - opt.Confidence) / 2; (c.Verdict == VerdictBetter || c.Verdict == VerdictWorse) && c.PValue >= a {
		reasons = append(reasons, fmt.Sprintf("p = %.3g is not below %.3g (direction not decision-grade)", c.PValue, a))
	}
	for _, arm := range []struct {
		name string
		e    Estimate
	}{{"baseline", c.Baseline}, {"candidate", c.Candidate}} {
		e := arm.e
		switch {
		case e.Runs == 0:
			reasons = append(reasons, fmt.Sprintf("no data (%s)", arm.name))
			continue
		case e.Runs == 1:
			reasons = append(reasons, fmt.Sprintf("single run (%s)", arm.name))
		case e.Runs < decisionMinRuns:
			reasons = append(reasons, fmt.Sprintf("few runs (%d < %d, %s)", e.Runs, decisionMinRuns, arm.name))
		}
		if e.Tail < decisionMinTail {
			reasons = append(reasons, fmt.Sprintf("low tail count (%d < %d requests beyond p%g, %s)", e.Tail, decisionMinTail, 100*e.P, arm.name))
		}
		if slices.Contains(e.Flags, FlagCensoredTail) {
			reasons = append(reasons, fmt.Sprintf("censored tail (%s)", arm.name))
		}
		if slices.Contains(e.Flags, FlagRunHeterogeneity) && e.Method != MethodRunLevel {
			reasons = append(reasons, fmt.Sprintf("run heterogeneity (%s)", arm.name))
		}
	}
	if len(reasons) == 0 {
		return GradeDecision, nil
	}
	return GradeProvisional, reasons
}

func logs(x []float64) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = math.Log(v)
	}
	return y
}

// welch returns the difference of means mean(y2) − mean(y1), its Welch–Satterthwaite t
// interval and the two-sided p-value of "no difference".
func welch(y1, y2 []float64, conf float64) (d, lo, hi, p float64) {
	m1, v1 := meanVar(y1)
	m2, v2 := meanVar(y2)
	n1, n2 := float64(len(y1)), float64(len(y2))
	s1, s2 := v1/n1, v2/n2
	d = m2 - m1
	se := math.Sqrt(s1 + s2)
	if se == 0 {
		if d == 0 {
			return d, d, d, 1
		}
		return d, d, d, 0
	}
	df := (s1 + s2) * (s1 + s2) / (s1*s1/(n1-1) + s2*s2/(n2-1))
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}
	hw := t.Quantile(1-(1-conf)/2) * se
	return d, d - hw, d + hw, math.Min(1, 2*t.Survival(math.Abs(d)/se))
}
