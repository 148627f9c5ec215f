// Package analysis is the deciding stage of analyze (ingest reads →
// analysis decides → report renders). An Analyzer takes the runs ingest
// reads, one at a time (Add), and returns a Summary: per-group quantile
// estimates with intervals (computed by package stats), comparisons of a
// candidate arm with a baseline with verdicts and grades, every run's tier
// evidence (a rehydrate verdict and per-phase counter deltas) and the
// per-request tier attribution.
//
// Every value in a Summary is in its base unit (the results.Unit* words):
// durations and times in nanoseconds, sizes in bytes, counters as counts.
// Package report alone scales them for display. Verdicts, grades, metric
// ids and phase roles are the shared words of package results.
package analysis
