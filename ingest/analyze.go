package ingest

import (
	"sort"

	"kvbench/report"
	"kvbench/results"
	"kvbench/stats"
)

// Options controls the analysis.
type Options struct {
	Quantiles []float64
	Seed      uint64
	Baseline  string
	Candidate string
}

// DefaultQuantiles are the percentiles every table reports.
var DefaultQuantiles = []float64{0.5, 0.9, 0.95, 0.99}

// metrics analysed per group, in report order.
var metrics = []struct {
	name string
	get  func(*Series) []float64
}{
	{"ttft_ms", func(s *Series) []float64 { return s.TTFT }},
	{"latency_ms", func(s *Series) []float64 { return s.Latency }},
	{"itl_ms", func(s *Series) []float64 { return s.ITL }},
}

// Analyze computes the summary of a dataset.
func Analyze(ds *Dataset, opt Options) *report.Summary {
	if len(opt.Quantiles) == 0 {
		opt.Quantiles = DefaultQuantiles
	}
	s := &report.Summary{
		Tool: "kvbench analyze " + results.Version,
		Method: report.Method{
			Quantile: "Hyndman-Fan type 7 (numpy linear)", Confidence: 0.95, Seed: opt.Seed,
			Quantiles: opt.Quantiles, Baseline: opt.Baseline, Candidate: opt.Candidate,
		},
		Runs:        []report.Run{},
		Skipped:     []report.SkippedRun{},
		Groups:      []report.Group{},
		Comparisons: []report.Comparison{},
	}
	for _, b := range ds.Bundles {
		m := b.Manifest
		s.Runs = append(s.Runs, report.Run{
			RunID: m.RunID, Arm: m.TierMode, KVMode: m.KVMode, Scenario: m.Scenario, Dir: b.Dir,
			Valid: m.Valid, Reasons: append([]string{}, m.InvalidReasons...), Requests: m.Tables[results.TableRequests].Rows,
		})
	}
	for _, k := range ds.Skipped {
		s.Skipped = append(s.Skipped, report.SkippedRun{Path: k.Path, Reason: k.Reason})
	}
	for _, g := range ds.Groups {
		n, fails := g.Requests()
		rg := report.Group{
			Scenario: g.Key.Scenario, Phase: g.Key.Phase, Arm: g.Key.TierMode, Concurrency: g.Key.Concurrency,
			NRuns: len(g.Runs), NRequests: n, NErrors: fails,
		}
		for _, mt := range metrics {
			pooled := g.Pooled(mt.get)
			if len(pooled) == 0 {
				continue
			}
			sort.Float64s(pooled)
			rm := report.Metric{Name: mt.name, N: len(pooled)}
			for _, p := range opt.Quantiles {
				rm.Quantiles = append(rm.Quantiles, report.Quantile{P: p, Value: stats.Quantile(pooled, p), Method: "point", Flags: []string{}})
			}
			rg.Metrics = append(rg.Metrics, rm)
			if mt.name == "ttft_ms" {
				s.Distributions = append(s.Distributions, report.Distribution{
					Scenario: g.Key.Scenario, Phase: g.Key.Phase, Arm: g.Key.TierMode, Metric: mt.name, Sorted: pooled,
				})
			}
		}
		s.Groups = append(s.Groups, rg)
	}
	mergeDistributions(s)
	return s
}

// mergeDistributions pools distributions that share scenario, phase, arm and
// metric (different concurrencies), so the CDF plot has one line per arm.
func mergeDistributions(s *report.Summary) {
	type key struct{ sc, ph, arm, m string }
	idx := map[key]int{}
	var out []report.Distribution
	for _, d := range s.Distributions {
		k := key{d.Scenario, d.Phase, d.Arm, d.Metric}
		if i, ok := idx[k]; ok {
			out[i].Sorted = append(out[i].Sorted, d.Sorted...)
			sort.Float64s(out[i].Sorted)
			continue
		}
		idx[k] = len(out)
		out = append(out, report.Distribution{Scenario: d.Scenario, Phase: d.Phase, Arm: d.Arm, Metric: d.Metric,
			Sorted: append([]float64(nil), d.Sorted...)})
	}
	s.Distributions = out
}
