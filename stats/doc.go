// Package stats is the numerics that package analysis calls while it decides
// (ingest reads → analysis decides → report renders): it turns per-run samples
// (requests nested in runs) into quantile estimates with confidence intervals,
// compares a candidate configuration with a baseline, and computes counter deltas.
// It imports no other kvbench package and knows no units: samples are plain numbers.
//
// The package does no I/O, no logging and reads no clock. Inputs are slices and an
// Options struct with documented defaults; outputs are plain structs whose warnings
// are data (Flags, Reasons). Randomness comes only from Options.Seed: every bootstrap
// replicate block draws from its own PCG stream derived from (seed, stream, role,
// quantile, block), so results are identical for a given seed whatever GOMAXPROCS is.
//
// Method:
//   - Quantiles are Hyndman–Fan type 7 (numpy's default "linear", R's default) computed
//     with numpy's lerp, so values are bit-identical with numpy.
//   - One run: percentile bootstrap with the exact O(1)-per-replicate order-statistic
//     sampler (flags SINGLE_RUN and CONDITIONAL_ON_RUNS, Scope "conditional": it
//     cannot see run-to-run variation); the distribution-free order-statistic interval
//     is available as OrderStatInterval and as Options.SingleRunOrderStat.
//   - Two or more runs: the run-level interval (method run_level, Scope "runs"), centred
//     on the pooled value with a t quantile on G−1 degrees of freedom; its variance is the
//     larger of the per-run log-quantile spread and the delete-one-run jackknife, plus the
//     uncertainty of the between-run variance, and its upper end is raised by the
//     jackknife bias (runspread.go). Flag FEW_RUNS below five runs; Cochran's Q
//     heterogeneity test. METHOD.md gives the coverage grid that chose this rule.
//   - Comparisons pair bootstrap replicates of both arms, add run-level Welch parts when
//     both arms have run-level intervals (two runs or more), and report a verdict with a practical margin
//     and a grade (decision-grade or provisional) with reasons. Verdict and Grade are
//     typed numbers; the caller names them.
//
// The two-stage replicates are drawn exactly (same distribution as multinomial counts
// over the pooled sorted data) in O(G·log N) per replicate with a binomial bridge over
// the pooled order, so 10 000 resamples of millions of requests are cheap.
package stats
