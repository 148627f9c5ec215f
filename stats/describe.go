package stats

import "strings"

// describe holds the report wording of every flag and interval method.
var describe = []struct{ key, text string }{
	{FlagInsufficientData, "fewer than 10 requests beyond the quantile: point estimate only, no interval, no verdict"},
	{FlagLowTailCount, "10–49 requests beyond the quantile: the interval may undercover by 2–3 points"},
	{FlagSingleRun, "one run: the interval reflects within-run sampling only; run-to-run variation is unknown"},
	{FlagFewRuns, "fewer than 5 runs: the run-level intervals are wide (Student t with runs − 1 degrees of freedom)"},
	{FlagRunHeterogeneity, "runs differ more than within-run noise explains (Cochran's Q p < 0.10)"},
	{FlagRunLevelUnavailable, "some run's quantile is zero or negative: two-stage interval only, conditional on these runs"},
	{FlagWithinRunCorrelation, "exceedances are autocorrelated within runs (lag-1 > 0.1): i.i.d. within-run resampling understates variance"},
	{FlagCensoredTail, "failed requests are at least 10% of the tail: the quantile is biased low"},
	{FlagNonFiniteDropped, "NaN or infinite values were ignored"},
	{FlagEmptyRunDropped, "runs without values were ignored"},
	{FlagNonPositive, "a quantile is zero or negative: log-scale intervals and ratios are unavailable"},
	{FlagMaterial, "the whole ratio interval lies beyond 1 ± the practical margin"},
	{FlagWithinMargin, "significant, but the whole ratio interval lies inside 1 ± the practical margin"},
	{FlagConditional, "the interval covers request sampling within the observed run(s) only, not run-to-run variation: not a confidence interval for another run"},
	{MethodIID, "percentile bootstrap of one run (exact order-statistic sampler)"},
	{MethodTwoStage, "two-stage percentile bootstrap (runs, then requests within runs)"},
	{MethodRunLevel, "run-level interval (t with G−1 degrees of freedom, centred on the pooled value): per-run log-quantile spread or delete-one-run jackknife, whichever is wider, plus the uncertainty of the run-to-run variance; upper end raised by the jackknife bias"},
	{MethodUnion, "union of the paired bootstrap interval and run-level Welch intervals on the log ratio (comparisons)"},
	{MethodOrderStat, "distribution-free order-statistic interval (one run)"},
	{MethodNone, "no interval"},
}

// Describe returns the report wording for a flag or an interval method, accepting the
// "baseline:" and "candidate:" prefixes of Comparison.Flags; "" for unknown names.
func Describe(name string) string {
	if i := strings.IndexByte(name, ':'); i >= 0 {
		name = name[i+1:]
	}
	for _, d := range describe {
		if d.key == name {
			return d.text
		}
	}
	return ""
}
