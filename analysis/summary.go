package analysis

// Summary is the analysis of a set of runs: everything report renders.
// Durations and times are nanoseconds, sizes bytes (see Metric.Unit).
type Summary struct {
	Tool   string
	Method Method
	// Header says what was measured: target, hosts, versions, dates and
	// the settings all runs shared.
	Header  Header
	Runs    []Run
	Skipped []SkippedRun
	// ConfigDiffs lists run settings that differ between runs, which can
	// confound the comparison.
	ConfigDiffs []ConfigDiff
	Groups      []Group
	Comparisons []Comparison
	// Drift holds the time trend of each compared arm's per-run TTFT
	// medians (arms with three runs or more).
	Drift []Drift
	// Rehydrate holds the tier evidence of every run.
	Rehydrate []Rehydrate
	// PhaseIO holds per-run, per-phase KVBM counter and disk deltas, for
	// the phases in which anything was sampled.
	PhaseIO []PhaseIO
	// Attribution is the per-request tier estimate, pooled per arm and
	// phase (an estimate from counter movement between scrapes).
	Attribution []TierShare
	// Distributions holds the sorted TTFTs behind the CDF plots, one per
	// scenario, phase and arm (concurrencies pooled).
	Distributions []Distribution
	// Timelines holds each run's TTFT over time.
	Timelines []Timeline
	// IOSeries holds each run's disk rates and KVBM counters over time.
	IOSeries []IOSeries
	// Integrity is the KV integrity check: repeated prompts' answers
	// compared with their first answers.
	Integrity Integrity
	// SLO is the objective requests were judged by when analyze was given
	// one ("" when each run's own --slo applied, or none); Knees are the
	// highest request rates that kept attainment at the target, per arm of
	// a request-rate sweep.
	SLO   string
	Knees []Knee
}

// Method records how the numbers were computed.
type Method struct {
	Quantile   string // the quantile definition
	Confidence float64
	Resamples  int // replicates of the one-run bootstrap
	// TwoStageResamples is the replicate count for several runs.
	TwoStageResamples int
	Seed              uint64
	Quantiles         []float64
	Baseline          string
	Candidate         string
	Margin            float64 // practical-equivalence margin of ratios
}

// Run is one run bundle used in the analysis.
type Run struct {
	RunID    string
	Arm      string // tier mode
	KVMode   string
	Scenario string
	Dir      string
	Valid    bool
	Reasons  []string // why the run is invalid
	Requests int64
}

// ConfigDiff is one capture setting whose value differs between runs.
type ConfigDiff struct {
	Key string
	// Values lists, per arm, the distinct values its runs used.
	Values []ArmValues
	// BetweenArms is true when the arms differ (a possible confound);
	// false when only runs within an arm differ (e.g. a sweep axis).
	BetweenArms bool
}

// ArmValues is the set of values one arm used for a setting.
type ArmValues struct {
	Arm    string
	Values []string
}

// SkippedRun is a bundle that was found but not used.
type SkippedRun struct {
	Path   string
	Reason string
}

// Group holds the statistics of one (scenario, phase, arm, concurrency,
// sweep point).
type Group struct {
	Scenario string
	Phase    string
	// Pass is the 1-based pass of a phase the scenario repeats
	// (reuse_verify: reuse #1, #2, ...); 0 for a phase that runs once.
	Pass        int
	Arm         string
	Concurrency int
	Sweep       string // campaign sweep point, "flag=value,..."; "" outside sweeps
	// Split is a trace run's prefix split: results.SplitPrefixSeen or
	// SplitNew; "" outside trace runs.
	Split     string
	NRuns     int
	NRequests int
	NErrors   int
	// Metrics are the per-request metrics with data, in the order TTFT,
	// latency, ITL.
	Metrics []Metric
	// RunMetrics are run-level metrics (one value per run): throughput.
	RunMetrics []RunMetric
}

// Metric is one per-request metric of a group with its quantile
// estimates.
type Metric struct {
	Name      string // results.MetricTTFT, MetricLatency or MetricITL
	Unit      string // base unit of the values (results.UnitNanoseconds)
	N         int
	Quantiles []Quantile
}

// Quantile is one estimate with its interval; Lo and Hi are nil when no
// interval could be computed.
type Quantile struct {
	P      float64
	Value  float64
	Lo     *float64
	Hi     *float64
	Method string // stats.Method*
	// Scope says what the interval's confidence refers to: stats.ScopeRuns
	// (runs like these), stats.ScopeConditional (the observed run only) or
	// stats.ScopeNone.
	Scope string
	Flags []string
}

// RunMetric is a run-level metric: its per-run values and their mean with
// a t interval over runs (nil with one run).
type RunMetric struct {
	Name   string // results.MetricThroughput or MetricOutputTokensRate
	Unit   string // results.UnitPerSecond
	Mean   float64
	Lo     *float64
	Hi     *float64
	PerRun []float64
	Method string
	Flags  []string
}

// Comparison is candidate against baseline for one metric and statistic.
type Comparison struct {
	Scenario    string
	Phase       string
	Pass        int // as in Group
	Concurrency int
	Sweep       string
	Split       string // as in Group
	Metric      string
	Unit        string // base unit of Baseline, Candidate and Delta
	P           float64
	// Statistic names what is compared: p50 ... p99, or mean for
	// run-level metrics (P is 0 then).
	Statistic string
	Baseline  float64
	Candidate float64
	Delta     float64 // candidate − baseline
	DeltaLo   *float64
	DeltaHi   *float64
	Ratio     float64 // candidate / baseline
	RatioLo   *float64
	RatioHi   *float64
	PValue    *float64
	// PHolm is the Holm-adjusted p-value across the quantiles of the same
	// scenario, phase, concurrency and metric (multiplicity).
	PHolm   *float64
	Verdict string // results.Verdict*
	Grade   string // results.Grade*
	Flags   []string
	Reasons []string // why the grade is provisional
	Method  string
}

// Rehydrate is one run's tier evidence: the verdict, the flags it raises
// for comparisons, and the counter deltas behind them.
type Rehydrate struct {
	RunID  string
	Arm    string
	KVMode string
	// Verdict is a results.Rehydrate* word.
	Verdict string
	// Flags for comparisons: FlagDiskTierInactive, FlagPageCacheMasking,
	// FlagNoRehydrate, FlagControlContaminated, in that order.
	Flags []string
	// HaveKVBM is true when any KVBM counter was scraped; HaveReplay when
	// the run has a replay-type phase.
	HaveKVBM   bool
	HaveReplay bool
	// KVBM holds the whole run's KVBM deltas by role.
	KVBM map[string]float64
	// Replay sums the replay-type phases, Warm the phases that write the
	// working set.
	Replay, Warm Deltas
	// TelemetryError says why the telemetry could not be read; the
	// verdict is then no_evidence and the rest is empty.
	TelemetryError string
	// Sources lists the independent evidence that supports the verdict
	// (Source* words); one source alone is said in the report.
	Sources []string
	// Requests is what the run's own requests show: TTFT in replay against
	// the reference phase, and the usage's cached tokens.
	Requests RequestEvidence
}

// RequestEvidence is the tier evidence in a run's requests.
type RequestEvidence struct {
	// ReplayTTFTNs and ReferenceTTFTNs are the median TTFTs of the replay
	// phases and of the run's reference phase (baseline_replay, else
	// populate: the same prompts before their KV could be cached); zero
	// when a phase has no successful request.
	ReplayTTFTNs, ReferenceTTFTNs float64
	ReferencePhase                string
	// ReplayCachedTokens and ReplayPromptTokens sum usage over the replay
	// phases' successful requests; HaveCachedTokens is false when the
	// server reported no cached_tokens.
	ReplayCachedTokens, ReplayPromptTokens int64
	HaveCachedTokens                       bool
}

// TTFTShift returns replay TTFT over reference TTFT, or 0 when either is
// missing.
func (e RequestEvidence) TTFTShift() float64 {
	if e.ReplayTTFTNs <= 0 || e.ReferenceTTFTNs <= 0 {
		return 0
	}
	return e.ReplayTTFTNs / e.ReferenceTTFTNs
}

// PhaseIO is one phase of one run: counter deltas between its boundaries.
type PhaseIO struct {
	RunID  string
	Arm    string
	Phase  string
	Repeat int // repeat index of a phase name that recurs in the run
	Deltas
}

// Deltas are counter increases over a phase, or summed over phases.
type Deltas struct {
	DurationNs int64
	// KVBM deltas by role (results.KVBM*): blocks, tokens for
	// matched_tokens. Absent roles were not scraped.
	KVBM map[string]float64
	// Bytes moved on the sampled block devices and by the server
	// processes; meaningful when HaveDevice and HaveProcess.
	DeviceReadBytes, DeviceWriteBytes   float64
	ProcessReadBytes, ProcessWriteBytes float64
	HaveDevice, HaveProcess             bool
	// ProcessSyscallReadBytes is what the server processes read through
	// read system calls, page cache hits included; meaningful when
	// HaveSyscall.
	ProcessSyscallReadBytes float64
	HaveSyscall             bool
	// Cache-directory churn; meaningful when HaveCacheDir.
	FilesCreated, FilesRemoved int64
	FSUsedDeltaBytes           float64
	HaveCacheDir               bool
}

// TierShare is how many requests of an arm's phase were attributed to a
// tier, with their median TTFT.
type TierShare struct {
	Arm      string
	Phase    string
	Tier     string // Tier* labels
	Requests int
	Share    float64
	TTFTp50  float64 // ns
}

// Distribution is a sorted sample behind a plot.
type Distribution struct {
	Scenario string
	Phase    string
	Pass     int // as in Group
	Arm      string
	Metric   string
	Sorted   []float64 // in the metric's base unit
}

// Timeline is one run's TTFT over time with its phases. Points are thinned
// to at most MaxTimelinePoints.
type Timeline struct {
	RunID  string
	Arm    string
	Phases []Span
	// OffsetNs is each request's start, from the run start; TTFTNs its
	// time to first token.
	OffsetNs []int64
	TTFTNs   []int64
}

// Span is a phase's interval, in nanoseconds from the run start.
type Span struct {
	Name           string
	StartNs, EndNs int64
}

// IOSeries is one run's telemetry over time.
type IOSeries struct {
	RunID  string
	Arm    string
	Phases []Span
	// DiskRead and DiskWrite are bytes per second summed over the sampled
	// block devices.
	DiskRead, DiskWrite []Point
	// Counters holds each KVBM role's cumulative value.
	Counters map[string][]Point
}

// Point is one sample of a series: nanoseconds from the run start and a
// value.
type Point struct {
	OffsetNs int64
	V        float64
}
