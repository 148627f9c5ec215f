package analysis

import (
	"slices"

	"kvbench/ingest"
	"kvbench/results"
	"kvbench/stats"
)

// Options controls the analysis.
type Options struct {
	// Quantiles are the percentiles every table reports (default
	// DefaultQuantiles).
	Quantiles []float64
	Seed      uint64
	Baseline  string
	Candidate string
	// Margin is the practical-equivalence margin of ratios (0: the stats
	// default, 5 %).
	Margin float64
	// Resamples overrides the bootstrap replicate counts (0: the stats
	// defaults, 9999 and 2000).
	Resamples int
	// Phases selects the phases analysed; empty selects every phase.
	// Warmup requests are never in the statistics.
	Phases []string
	// Rehydrate tunes the tier-evidence heuristics.
	Rehydrate RehydrateOptions
	// SLO judges every request (goodput and attainment); when not set,
	// each run's own --slo applies.
	SLO results.SLO
	// SLOTarget is the attainment a rate sweep's knee must keep (0: 0.9).
	SLOTarget float64
	// MaxAnswerChange is the share of changed repeated answers above which
	// a run is flagged (0: DefaultMaxAnswerChange).
	MaxAnswerChange float64
}

// DefaultQuantiles are the percentiles every table reports.
var DefaultQuantiles = []float64{0.5, 0.9, 0.95, 0.99}

// quantileMethod names the quantile definition stats implements.
const quantileMethod = "Hyndman-Fan type 7 (numpy linear)"

// Analyzer accumulates runs and computes their Summary. Add keeps only
// what the summary needs from each run (per-request timings grouped by
// key, thinned timelines, reduced telemetry), so runs can be read one at
// a time.
type Analyzer struct {
	opt       Options
	so        stats.Options
	runs      []Run
	skipped   []SkippedRun
	manifests []*results.Manifest
	groups    map[groupKey]*group
	timelines []Timeline
	rehydrate []Rehydrate
	phaseIO   []PhaseIO
	ioSeries  []IOSeries
	tiers     tierPool
	integrity []RunIntegrity
}

// New returns an Analyzer with the given options.
func New(opt Options) *Analyzer {
	if len(opt.Quantiles) == 0 {
		opt.Quantiles = DefaultQuantiles
	}
	so := stats.DefaultOptions()
	so.Seed = opt.Seed
	if opt.Margin > 0 {
		so.Margin = opt.Margin
	}
	if opt.Resamples > 0 {
		so.Resamples, so.TwoStageResamples = opt.Resamples, opt.Resamples
	}
	return &Analyzer{opt: opt, so: so, groups: map[groupKey]*group{}}
}

// Add takes one run: its requests join their groups, and its telemetry is
// judged. Runs are listed in the order they are added.
func (a *Analyzer) Add(r *ingest.Run) {
	m := r.Manifest
	a.runs = append(a.runs, Run{
		RunID: m.RunID, Arm: m.TierMode, KVMode: m.KVMode, Scenario: m.Scenario, Dir: r.Dir,
		Valid: m.Valid, Reasons: slices.Clone(m.InvalidReasons), Requests: m.Tables[results.TableRequests].Rows,
	})
	a.manifests = append(a.manifests, m)
	a.addRequests(r)
	a.addTelemetry(r)
	a.addIntegrity(r)
}

// Skip lists bundles that were found but not used.
func (a *Analyzer) Skip(skipped ...ingest.Skipped) {
	for _, k := range skipped {
		a.skipped = append(a.skipped, SkippedRun{Path: k.Path, Reason: k.Reason})
	}
}

// AddDataset adds every run of ds that can be read, in order, then lists
// the bundles ds skipped.
func (a *Analyzer) AddDataset(ds *ingest.Dataset) {
	for r := range ds.Runs() {
		a.Add(r)
	}
	a.Skip(ds.Skipped...)
}

// Len returns the number of runs added.
func (a *Analyzer) Len() int { return len(a.runs) }

// Summary computes the statistics of the runs added so far.
func (a *Analyzer) Summary() *Summary {
	s := &Summary{
		Tool: "kvbench analyze " + results.Version,
		Method: Method{
			Quantile: quantileMethod, Confidence: a.so.Confidence, Seed: a.opt.Seed,
			Resamples: a.so.Resamples, TwoStageResamples: a.so.TwoStageResamples,
			Quantiles: a.opt.Quantiles, Baseline: a.opt.Baseline, Candidate: a.opt.Candidate, Margin: a.so.Margin,
		},
		Header:      header(a.manifests),
		Runs:        a.runs,
		Skipped:     a.skipped,
		ConfigDiffs: configDiffs(a.manifests),
		Rehydrate:   a.rehydrate,
		PhaseIO:     a.phaseIO,
		Attribution: a.tiers.shares(),
		Timelines:   a.timelines,
		IOSeries:    a.ioSeries,
		Integrity:   a.integritySummary(),
	}
	groups := a.sortedGroups()
	// Comparisons first: they estimate both arms, and the group tables
	// reuse those estimates so a row and its comparison show the same
	// interval (and the work is not done twice).
	comparisons, est := a.compare(groups)
	s.Comparisons = comparisons
	s.Drift = a.drifts(groups, comparisons, est)
	for _, g := range groups {
		s.Groups = append(s.Groups, a.groupSummary(g, est))
		if d, ok := g.distribution(); ok {
			s.Distributions = append(s.Distributions, d)
		}
	}
	s.Distributions = mergeDistributions(s.Distributions)
	s.SLO = a.opt.SLO.String()
	target := a.opt.SLOTarget
	if target <= 0 {
		target = DefaultSLOTarget
	}
	s.Knees = knees(s.Groups, target)
	gradeWithEvidence(s)
	flagIntegrity(s)
	return s
}

// keepPhase applies Options.Phases.
func (a *Analyzer) keepPhase(phase string) bool {
	return len(a.opt.Phases) == 0 || slices.Contains(a.opt.Phases, phase)
}
