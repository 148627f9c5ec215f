package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"
)

// Flags attached to an Estimate or a Comparison. They are data, for the
// report to print; none of them is an error.
const (
	FlagInsufficientData     = "INSUFFICIENT_DATA"      // tail count n·min(p, 1-p) < 10: no interval, no verdict
	FlagLowTailCount         = "LOW_TAIL_COUNT"         // 10 <= tail < 50: interval may undercover by 2–3 points
	FlagSingleRun            = "SINGLE_RUN"             // one run: interval reflects within-run sampling only
	FlagFewRuns              = "FEW_RUNS"               // 2 <= runs < 5
	FlagRunHeterogeneity     = "RUN_HETEROGENEITY"      // Cochran's Q p < 0.10 across runs
	FlagRunLevelUnavailable  = "RUN_LEVEL_UNAVAILABLE"  // some run has fewer than RunLevelMinTail tail requests or a non-positive quantile: no run-level interval
	FlagWithinRunCorrelation = "WITHIN_RUN_CORRELATION" // lag-1 autocorrelation of exceedances > 0.1
	FlagCensoredTail         = "CENSORED_TAIL"          // failures >= 0.1·n·(1-p): estimate biased low
	FlagNonFiniteDropped     = "NONFINITE_DROPPED"      // NaN or ±Inf inputs were ignored
	FlagEmptyRunDropped      = "EMPTY_RUN_DROPPED"      // a run without (finite) values was ignored
	FlagNonPositive          = "NONPOSITIVE"            // a quantile is <= 0, so log-scale methods and ratios are unavailable
	FlagMaterial             = "MATERIAL"               // the whole ratio interval lies beyond 1 ± margin
	FlagWithinMargin         = "WITHIN_MARGIN"          // significant, but the whole ratio interval lies inside 1 ± margin
	FlagConditional          = "CONDITIONAL_ON_RUNS"    // the interval covers sampling within the observed run only, not run-to-run variation
)

// Scopes of an interval, reported in Estimate.Scope: what the stated confidence refers to.
const (
	// ScopeRuns: the confidence is for the quantile over runs like these (a new run's
	// population), run-to-run variation included; measured coverage on the grid in
	// testdata/coverage_grid.json is at least 93.5% at 95%.
	ScopeRuns = "runs"
	// ScopeConditional: the interval covers request sampling within the observed run only
	// (one run); it is not a confidence interval for another run. Flag CONDITIONAL_ON_RUNS.
	ScopeConditional = "conditional"
	// ScopeNone: no interval.
	ScopeNone = "none"
)

// Interval methods reported in Estimate.Method and Comparison.Method.
const (
	MethodIID       = "iid"        // percentile bootstrap, order-statistic sampler (one run)
	MethodTwoStage  = "two_stage"  // two-stage (runs, then requests) percentile bootstrap
	MethodUnion     = "union"      // comparisons: hull of the paired bootstrap interval and the run-level Welch intervals centred on the pooled log ratio
	MethodRunLevel  = "run_level"  // two runs or more: the run-level interval centred on the pooled estimate (see runSpreadInterval)
	MethodOrderStat = "order_stat" // distribution-free order-statistic interval (one run, optional)
	MethodNone      = "none"       // no interval: insufficient data
)

// Options configures estimation and comparison. Start from DefaultOptions; zero or
// invalid numeric fields fall back to their defaults (Seed and Stream excepted: 0 is a
// valid value).
type Options struct {
	// Confidence is the two-sided confidence level of every interval (default 0.95).
	Confidence float64
	// Resamples is the number of replicates of the O(1) order-statistic sampler used for
	// a single run (default 9999, scipy's default).
	Resamples int
	// TwoStageResamples is the number of two-stage replicates for several runs, and of the
	// within-run replicates behind Cochran's Q (default 2000).
	TwoStageResamples int
	// Seed is the root of every random stream; print it in the report.
	Seed uint64
	// Stream distinguishes independent samples analysed with the same seed (for example a
	// hash of the group keys). CompareQuantiles uses Stream for the baseline and Stream+1 for the
	// candidate.
	Stream uint64
	// Margin is the practical-equivalence margin δ for ratios: equivalent when the ratio
	// interval lies inside [1-δ, 1+δ] (default 0.05).
	Margin float64
	// HigherIsBetter flips the direction of verdicts for metrics such as throughput.
	// The default (false) suits latencies: a ratio below 1 is better.
	HigherIsBetter bool
	// MinRuns is the number of runs each arm needs for a verdict other than
	// insufficient_data (default 2: with one run per arm, run-to-run variation is
	// unknown and null comparisons come out better or worse far more than 5% of the
	// time when runs differ; set 1 for a verdict conditional on the runs).
	MinRuns int
	// Workers bounds the goroutines used for resampling (<= 0: GOMAXPROCS). Results do
	// not depend on it.
	Workers int
	// RunLevelMinTail is the number of requests beyond the quantile every run needs for
	// the run-level interval (default 1: a run's quantile from few tail requests is
	// noisy, and that noise widens the run-level interval rather than being dropped; see
	// METHOD.md, "How sure the intervals are"). Below it the estimate is two-stage only,
	// scope conditional, flagged RUN_LEVEL_UNAVAILABLE.
	RunLevelMinTail int
	// SingleRunOrderStat reports the distribution-free order-statistic interval instead
	// of the percentile bootstrap for a single run (when it exists at that n). Comparisons
	// still use bootstrap replicates.
	SingleRunOrderStat bool
}

// DefaultOptions returns the documented defaults: 95 % intervals, 9999 order-statistic
// replicates, 2000 two-stage replicates, seed 1, margin 5 %, lower is better, two runs
// per arm for a verdict, run-level intervals whenever per-run quantiles are positive.
func DefaultOptions() Options {
	return Options{Confidence: 0.95, Resamples: 9999, TwoStageResamples: 2000, Seed: 1, Margin: 0.05, MinRuns: 2, RunLevelMinTail: 1}
}

// normalized fills invalid or zero fields with defaults.
func (o Options) normalized() Options {
	d := DefaultOptions()
	if !(o.Confidence > 0 && o.Confidence < 1) {
		o.Confidence = d.Confidence
	}
	if o.Resamples <= 0 {
		o.Resamples = d.Resamples
	}
	if o.TwoStageResamples <= 0 {
		o.TwoStageResamples = d.TwoStageResamples
	}
	if !(o.Margin >= 0 && o.Margin < 1) {
		o.Margin = d.Margin
	}
	if o.MinRuns <= 0 {
		o.MinRuns = d.MinRuns
	}
	if o.RunLevelMinTail <= 0 {
		o.RunLevelMinTail = d.RunLevelMinTail
	}
	return o
}

// Estimate is a quantile estimate with its confidence interval. Lo, Hi and every other
// float field are never NaN; when Method is MethodNone, Lo and Hi equal Value.
type Estimate struct {
	Value      float64 // pooled type-7 quantile over all requests of all runs
	Lo, Hi     float64 // confidence interval
	Confidence float64 // nominal level (achieved level for MethodOrderStat)
	P          float64 // the quantile, in [0, 1]
	N          int     // requests used (finite values)
	Runs       int     // non-empty runs
	Tail       int     // tail count ⌊N·min(p, 1-p)⌋
	Method     string  // MethodIID, MethodTwoStage, MethodRunLevel, MethodOrderStat or MethodNone
	// Scope says what Confidence refers to: ScopeRuns, ScopeConditional or ScopeNone.
	Scope  string
	Flags  []string
	PerRun []float64 // per-run type-7 quantiles, in input order of the non-empty runs
	// HeterogeneityP is the p-value of Cochran's Q over per-run log quantiles (1 when not computed).
	HeterogeneityP float64
	// Autocorr is the pooled lag-1 autocorrelation of exceedances of Value within runs, in
	// input order (0 when not computed).
	Autocorr float64
}

// sample is one arm's data prepared once for all quantiles.
type sample struct {
	orig   [][]float64 // finite values per non-empty run, input order
	sorted [][]float64 // same, each sorted ascending
	all    []float64   // pooled values, ascending
	pl     *pooled     // nil for a single run
	flags  []string
	lm     *logMoments // per-run log moments, computed on first use
}

// logMoments returns the per-run log moments, computing them once.
func (s *sample) logMoments() logMoments {
	if s.lm == nil {
		m := runLogMoments(s.sorted)
		s.lm = &m
	}
	return *s.lm
}

func prepare(runs [][]float64) *sample {
	s := &sample{}
	dropped, empty := false, false
	for _, run := range runs {
		var xs []float64
		for _, v := range run {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				dropped = true
				continue
			}
			xs = append(xs, v)
		}
		if len(xs) == 0 {
			empty = true
			continue
		}
		s.orig = append(s.orig, xs)
		srt := slices.Clone(xs)
		slices.Sort(srt)
		s.sorted = append(s.sorted, srt)
	}
	if dropped {
		s.flags = append(s.flags, FlagNonFiniteDropped)
	}
	if empty {
		s.flags = append(s.flags, FlagEmptyRunDropped)
	}
	switch len(s.sorted) {
	case 0:
	case 1:
		s.all = s.sorted[0]
	default:
		s.pl = newPooled(s.sorted)
		s.all = s.pl.vals
	}
	return s
}

func tailCount(n int, p float64) int {
	// Note: the 1e-9 absorbs float error in 1-p (5000·(1-0.99) = 50.00000000000004,
	// 200·(1-0.95) = 9.999999999999998).
	return int(math.Floor(float64(n)*math.Min(p, 1-p) + 1e-9))
}

// EstimateQuantiles estimates the ps-quantiles of a configuration from its runs
// (requests nested in runs; each run in request-start order) with the interval method
// chosen by the number of runs (see the package documentation) and the minimum-sample
// flags, sorting the data once. failures is the number of failed or timed-out requests
// (censored above the timeout). Each quantile uses its own random streams, so its result
// does not depend on which other quantiles are requested.
func EstimateQuantiles(runs [][]float64, ps []float64, failures int, opt Options) []Estimate {
	opt = opt.normalized()
	s := prepare(runs)
	out := make([]Estimate, len(ps))
	for i, p := range ps {
		out[i], _ = s.estimate(p, failures, opt, opt.Stream)
	}
	return out
}

// estimate computes one Estimate and returns the (unsorted) bootstrap replicates behind
// it (nil when there is no interval).
func (s *sample) estimate(p float64, failures int, opt Options, stream uint64) (Estimate, []float64) {
	e := Estimate{P: p, Confidence: opt.Confidence, Method: MethodNone, Scope: ScopeNone, HeterogeneityP: 1, Runs: len(s.sorted), N: len(s.all)}
	e.Flags = append(e.Flags, s.flags...)
	if !(p >= 0 && p <= 1) {
		e.P = 0
		e.Flags = append(e.Flags, FlagInsufficientData)
		return e, nil
	}
	if e.N == 0 {
		e.Flags = append(e.Flags, FlagInsufficientData)
		return e, nil
	}
	e.Value = Quantile(s.all, p)
	e.Lo, e.Hi = e.Value, e.Value
	e.PerRun = make([]float64, len(s.sorted))
	for r, xs := range s.sorted {
		e.PerRun[r] = Quantile(xs, p)
	}
	e.Tail = tailCount(e.N, p)
	G := e.Runs
	if upper := math.Floor(float64(e.N)*(1-p) + 1e-9); failures > 0 && float64(failures) >= 0.1*upper {
		e.Flags = append(e.Flags, FlagCensoredTail)
	}
	switch {
	case G == 1:
		e.Flags = append(e.Flags, FlagSingleRun)
	case G < 5:
		e.Flags = append(e.Flags, FlagFewRuns)
	}
	if e.Tail < 10 {
		e.Flags = append(e.Flags, FlagInsufficientData)
		return e, nil
	}
	if e.Tail < 50 {
		e.Flags = append(e.Flags, FlagLowTailCount)
	}
	e.Autocorr = s.exceedanceAutocorr(e.Value)
	if e.Autocorr > 0.1 {
		e.Flags = append(e.Flags, FlagWithinRunCorrelation)
	}
	if G == 1 {
		return e, s.singleRunInterval(&e, p, opt, stream)
	}
	return e, s.multiRunInterval(&e, p, opt, stream)
}

// singleRunInterval sets the interval of a one-run estimate: the percentile
// bootstrap with the order-statistic sampler, or the distribution-free
// order-statistic interval when asked for and it exists. It returns the
// bootstrap replicates.
func (s *sample) singleRunInterval(e *Estimate, p float64, opt Options, stream uint64) []float64 {
	alpha := (1 - opt.Confidence) / 2
	reps := BootstrapQuantile(s.all, p, opt.Resamples, opt.Seed, stream, opt.Workers)
	e.Lo, e.Hi = sortedPercentiles(slices.Clone(reps), alpha, 1-alpha)
	e.Method = MethodIID
	e.Scope = ScopeConditional
	e.Flags = append(e.Flags, FlagConditional)
	if opt.SingleRunOrderStat {
		if lo, hi, ok := OrderStatInterval(e.N, p, opt.Confidence); ok {
			e.Lo, e.Hi = s.all[lo-1], s.all[hi-1]
			e.Method = MethodOrderStat
			e.Confidence = OrderStatCoverage(e.N, lo, hi, p)
		}
	}
	return reps
}

// multiRunInterval sets the interval of an estimate over several runs: the
// run-level interval centred on the pooled estimate (see runSpreadInterval)
// when every per-run quantile is positive, else the two-stage bootstrap,
// labelled conditional. It also computes Cochran's Q across runs, and it
// returns the two-stage replicates, which comparisons pair.
//
// The two-stage interval is not joined to the run-level one: it counts the
// within-run noise twice (runs resampled with their noise, then requests
// within them), so the union covered 98-99% when runs agree, and it added
// nothing where the run-level interval fell short (the coverage grid in
// METHOD.md).
func (s *sample) multiRunInterval(e *Estimate, p float64, opt Options, stream uint64) []float64 {
	alpha := (1 - opt.Confidence) / 2
	key := streamKey{seed: opt.Seed, stream: stream, role: roleTwoStage, p: p}
	reps := s.pl.twoStageReplicates(p, opt.TwoStageResamples, key, opt.Workers)

	positive := e.Value > 0
	for _, q := range e.PerRun {
		if !(q > 0) {
			positive = false
		}
	}
	if !positive {
		e.Flags = append(e.Flags, FlagNonPositive)
	} else {
		e.HeterogeneityP = s.cochranQ(e.PerRun, p, opt, stream)
		if e.HeterogeneityP < 0.10 {
			e.Flags = append(e.Flags, FlagRunHeterogeneity)
		}
	}
	if positive && s.runTailsOK(p, opt.RunLevelMinTail) {
		e.Lo, e.Hi = s.runSpreadInterval(e.Value, e.PerRun, p, opt.Confidence)
		e.Method = MethodRunLevel
		e.Scope = ScopeRuns
	} else {
		e.Lo, e.Hi = sortedPercentiles(slices.Clone(reps), alpha, 1-alpha)
		e.Method, e.Scope = MethodTwoStage, ScopeConditional
		e.Flags = append(e.Flags, FlagRunLevelUnavailable, FlagConditional)
	}
	return reps
}

// jackknifeVar is the delete-one-run jackknife variance of the log pooled
// p-quantile and the mean of the leave-one-out log quantiles; ok is false when
// a leave-one-out quantile is not positive.
func (s *sample) jackknifeVar(p float64) (variance, mean float64, ok bool) {
	G := len(s.sorted)
	th := make([]float64, G)
	for g := range s.sorted {
		q := s.quantileWithout(g, p)
		if !(q > 0) {
			return 0, 0, false
		}
		th[g] = math.Log(q)
	}
	m, v := meanVar(th)
	return v * float64(G-1) * float64(G-1) / float64(G), m, true
}

// quantileWithout returns the type-7 p-quantile of the pooled values without run g.
// Run g's sorted values are a sub-multiset of the pooled order, so the number of
// remaining values ≤ all[i] is nondecreasing in i; a binary search finds the
// order statistics in O(log² N).
func (s *sample) quantileWithout(g int, p float64) float64 {
	skip := s.sorted[g]
	n := len(s.all) - len(skip)
	h := float64(n-1) * p
	k := int(math.Floor(h))
	// kth returns the k-th (0-based) smallest remaining value.
	kth := func(k int) float64 {
		i := sort.Search(len(s.all), func(i int) bool {
			v := s.all[i]
			left := sort.Search(len(s.all), func(j int) bool { return s.all[j] > v }) -
				sort.Search(len(skip), func(j int) bool { return skip[j] > v })
			return left >= k+1
		})
		return s.all[i]
	}
	a := kth(k)
	if k+1 >= n {
		return a
	}
	return lerp(a, kth(k+1), h-float64(k))
}

var unionTwoStage = true

// runTailsOK reports whether every run has at least minTail requests beyond the quantile.
func (s *sample) runTailsOK(p float64, minTail int) bool {
	for _, xs := range s.sorted {
		if tailCount(len(xs), p) < minTail {
			return false
		}
	}
	return true
}

// meanVar returns the mean and the unbiased variance (0 for fewer than two values).
func meanVar(y []float64) (mean, variance float64) {
	if len(y) == 0 {
		return 0, 0
	}
	for _, v := range y {
		mean += v
	}
	mean /= float64(len(y))
	if len(y) < 2 {
		return mean, 0
	}
	for _, v := range y {
		variance += (v - mean) * (v - mean)
	}
	return mean, variance / float64(len(y)-1)
}

// cochranQ returns the p-value of Cochran's Q test of homogeneity of the per-run log
// quantiles, weighted by the inverse within-run bootstrap variances (order-statistic
// sampler, TwoStageResamples replicates per run).
func (s *sample) cochranQ(perRun []float64, p float64, opt Options, stream uint64) float64 {
	G := len(perRun)
	y := make([]float64, G)
	w := make([]float64, G)
	for r, xs := range s.sorted {
		y[r] = math.Log(perRun[r])
		key := streamKey{seed: opt.Seed, stream: stream, role: roleRunVar, p: p, sub: uint64(r)}
		reps := make([]float64, opt.TwoStageResamples)
		smp := newOSSampler(xs, p)
		// Note: a single goroutine per run; these are cheap and run for every run.
		fillBlocks(reps, 1, key, func() func(*rand.Rand, []float64) {
			return func(rr *rand.Rand, dst []float64) {
				for i := range dst {
					dst[i] = math.Log(smp.draw(rr))
				}
			}
		})
		_, v := meanVar(reps)
		// Note: a zero within-run variance (discrete or constant data) is floored so the
		// weight stays finite; differing runs then give a huge Q, as they should.
		w[r] = 1 / math.Max(v, 1e-12)
	}
	var sw, swy float64
	for r := range y {
		sw += w[r]
		swy += w[r] * y[r]
	}
	yb := swy / sw
	var Q float64
	for r := range y {
		Q += w[r] * (y[r] - yb) * (y[r] - yb)
	}
	if !(Q > 0) {
		return 1
	}
	return distuv.ChiSquared{K: float64(G - 1)}.Survival(Q)
}

// exceedanceAutocorr returns the pooled lag-1 autocorrelation of z = 1{x > q} within
// runs, in input (request-start) order, each run centred on its own exceedance rate.
func (s *sample) exceedanceAutocorr(q float64) float64 {
	var num, den float64
	for _, xs := range s.orig {
		if len(xs) < 2 {
			continue
		}
		c := 0
		for _, v := range xs {
			if v > q {
				c++
			}
		}
		pi := float64(c) / float64(len(xs))
		prev := 0.0
		for i, v := range xs {
			z := -pi
			if v > q {
				z = 1 - pi
			}
			den += z * z
			if i > 0 {
				num += z * prev
			}
			prev = z
		}
	}
	if den == 0 {
		return 0
	}
	return num / den
}
