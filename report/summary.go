// Package report renders an analysis as report.md, summary.json and plots
// (PNG and SVG). It is the last stage of analyze (ingest → stats → report)
// and a pure function of its input: no clock, no map iteration order, fixed
// number formats, so the same analysis always gives the same bytes.
package report

// Summary is the machine-readable analysis, written as summary.json. Every
// number in report.md comes from it.
type Summary struct {
	Tool    string       `json:"tool"`
	Method  Method       `json:"method"`
	Runs    []Run        `json:"runs"`
	Skipped []SkippedRun `json:"skipped"`
	// ConfigDiffs lists run settings that differ between runs, which can
	// confound the comparison.
	ConfigDiffs []ConfigDiff `json:"config_diffs"`
	Groups      []Group      `json:"groups"`
	Comparisons []Comparison `json:"comparisons"`
	// Rehydrate holds the tier evidence of every run.
	Rehydrate []Rehydrate `json:"rehydrate"`
	// PhaseIO holds per-run, per-phase KVBM counter and disk deltas.
	PhaseIO []PhaseIO `json:"phase_io"`
	// Attribution is the per-request tier estimate, pooled per arm and
	// phase (an estimate from counter movement between scrapes).
	Attribution []TierShare `json:"tier_attribution"`

	// Distributions holds the sorted values behind the plots; it is not
	// part of summary.json.
	Distributions []Distribution `json:"-"`
	// Timelines holds per-run TTFT over time for plots; not in summary.json.
	Timelines []Timeline `json:"-"`
	// IOSeries holds per-run disk rates and KVBM counters over time for
	// plots; not in summary.json.
	IOSeries []IOSeries `json:"-"`
}

// Rehydrate is one run's tier evidence and verdict: rehydrate_observed,
// not_observed, gated (no cross-request reuse path) or no_evidence.
type Rehydrate struct {
	RunID    string   `json:"run_id"`
	Arm      string   `json:"arm"`
	Verdict  string   `json:"verdict"`
	Evidence []string `json:"evidence"`
	Warnings []string `json:"warnings"`
	Flags    []string `json:"flags"`
}

// TierShare is how many requests of an arm's phase were attributed to a
// tier, with their median TTFT.
type TierShare struct {
	Arm      string  `json:"arm"`
	Phase    string  `json:"phase"`
	Tier     string  `json:"tier"` // disk, host, disk+host, no_onboard, ambiguous, unknown
	Requests int     `json:"requests"`
	Share    float64 `json:"share"`
	TTFTp50  float64 `json:"ttft_p50_ms"`
}

// PhaseIO is one phase of one run: counter deltas between its boundaries.
type PhaseIO struct {
	RunID   string  `json:"run_id"`
	Arm     string  `json:"arm"`
	Phase   string  `json:"phase"`
	Repeat  int     `json:"repeat_index"`
	Seconds float64 `json:"seconds"`
	// KVBM deltas by role: offload_d2h, offload_h2d, offload_d2d,
	// onboard_h2d, onboard_d2d, onboard_d2h (blocks), matched_tokens.
	KVBM              map[string]float64 `json:"kvbm"`
	DeviceReadBytes   *float64           `json:"device_read_bytes"`
	DeviceWriteBytes  *float64           `json:"device_write_bytes"`
	ProcessReadBytes  *float64           `json:"process_read_bytes"`
	ProcessWriteBytes *float64           `json:"process_write_bytes"`
	FilesCreated      *int64             `json:"cache_files_created"`
	FilesRemoved      *int64             `json:"cache_files_removed"`
}

// IOSeries is one run's telemetry over time (seconds from run start).
type IOSeries struct {
	RunID     string
	Arm       string
	Phases    []Span
	DiskRead  [][2]float64 // MiB/s
	DiskWrite [][2]float64
	Counters  map[string][][2]float64
}

// Timeline is one run's TTFT over time with its phase bands.
type Timeline struct {
	RunID  string
	Arm    string
	Phases []Span
	T      []float64 // seconds from run start
	TTFT   []float64 // ms
}

// Span is a phase's interval in seconds from run start.
type Span struct {
	Name       string
	Start, End float64
}

// Method records how the numbers were computed.
type Method struct {
	Quantile   string  `json:"quantile"`
	Confidence float64 `json:"confidence"`
	Resamples  int     `json:"resamples"`
	// TwoStageResamples is the replicate count for several runs.
	TwoStageResamples int       `json:"two_stage_resamples"`
	Seed              uint64    `json:"seed"`
	Quantiles         []float64 `json:"quantiles"`
	Baseline          string    `json:"baseline"`
	Candidate         string    `json:"candidate"`
	Margin            float64   `json:"margin"`
}

// Run is one run bundle used in the analysis.
type Run struct {
	RunID    string   `json:"run_id"`
	Arm      string   `json:"arm"`
	KVMode   string   `json:"kv_mode"`
	Scenario string   `json:"scenario"`
	Dir      string   `json:"dir"`
	Valid    bool     `json:"valid"`
	Reasons  []string `json:"reasons"`
	Requests int64    `json:"requests"`
}

// ConfigDiff is one capture setting whose value differs between runs.
type ConfigDiff struct {
	Key string `json:"key"`
	// Values lists, per arm, the distinct values its runs used.
	Values []ArmValues `json:"values"`
	// BetweenArms is true when the arms differ (a possible confound);
	// false when only runs within an arm differ (e.g. a sweep axis).
	BetweenArms bool `json:"between_arms"`
}

// ArmValues is the set of values one arm used for a setting.
type ArmValues struct {
	Arm    string   `json:"arm"`
	Values []string `json:"values"`
}

// SkippedRun is a bundle that was found but not used.
type SkippedRun struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Group holds the statistics of one (scenario, phase, arm, concurrency).
type Group struct {
	Scenario    string   `json:"scenario"`
	Phase       string   `json:"phase"`
	Arm         string   `json:"arm"`
	Concurrency int      `json:"concurrency"`
	Sweep       string   `json:"sweep,omitempty"`
	NRuns       int      `json:"n_runs"`
	NRequests   int      `json:"n_requests"`
	NErrors     int      `json:"n_errors"`
	Metrics     []Metric `json:"metrics"`
	// RunMetrics are run-level metrics (one value per run): throughput.
	RunMetrics []RunMetric `json:"run_metrics"`
}

// RunMetric is a run-level metric: its per-run values and their mean with
// a t interval over runs (null with one run).
type RunMetric struct {
	Name   string    `json:"name"` // throughput_rps, output_tokens_per_s
	Mean   float64   `json:"mean"`
	Lo     *float64  `json:"lo"`
	Hi     *float64  `json:"hi"`
	PerRun []float64 `json:"per_run"`
	Method string    `json:"method"`
	Flags  []string  `json:"flags"`
}

// Metric is one metric of a group with its quantile estimates.
type Metric struct {
	Name      string     `json:"name"` // ttft_ms, latency_ms, itl_ms
	N         int        `json:"n"`
	Quantiles []Quantile `json:"quantiles"`
}

// Quantile is one estimate with its interval; Lo and Hi are null when no
// interval could be computed.
type Quantile struct {
	P      float64  `json:"p"`
	Value  float64  `json:"value"`
	Lo     *float64 `json:"lo"`
	Hi     *float64 `json:"hi"`
	Method string   `json:"method"`
	Flags  []string `json:"flags"`
}

// Comparison is candidate vs baseline for one metric and quantile.
type Comparison struct {
	Scenario    string  `json:"scenario"`
	Phase       string  `json:"phase"`
	Concurrency int     `json:"concurrency"`
	Sweep       string  `json:"sweep,omitempty"`
	Metric      string  `json:"metric"`
	P           float64 `json:"quantile"`
	// Statistic names what is compared: p50 ... p99, or mean for
	// run-level metrics (quantile is 0 then).
	Statistic string   `json:"statistic"`
	Baseline  float64  `json:"baseline"`
	Candidate float64  `json:"candidate"`
	Delta     float64  `json:"delta"`
	DeltaLo   *float64 `json:"delta_lo"`
	DeltaHi   *float64 `json:"delta_hi"`
	Ratio     float64  `json:"ratio"`
	RatioLo   *float64 `json:"ratio_lo"`
	RatioHi   *float64 `json:"ratio_hi"`
	PValue    *float64 `json:"p_value"`
	// PHolm is the Holm-adjusted p-value across the quantiles of the same
	// scenario, phase, concurrency and metric (multiplicity).
	PHolm   *float64 `json:"p_holm"`
	Verdict string   `json:"verdict"`
	Grade   string   `json:"grade"`
	Flags   []string `json:"flags"`
	Reasons []string `json:"reasons"`
	Method  string   `json:"method"`
}

// Distribution is a sorted sample behind a plot.
type Distribution struct {
	Scenario string
	Phase    string
	Arm      string
	Metric   string
	Sorted   []float64
}
