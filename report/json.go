package report

import (
	"encoding/json"
	"io"

	"kvbench/analysis"
)

// JSON writes the summary as summary.json (documented in SUMMARY.md):
// the analysis in display units, as report.md shows it, without the
// samples behind the plots.
func JSON(w io.Writer, s *analysis.Summary) error {
	js, err := json.MarshalIndent(summaryView(s), "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(js, '\n'))
	return err
}

// The types below are the format of summary.json. Field order is the
// file's key order; a list is [] rather than null when empty, except a
// group's metrics.

type summaryJSON struct {
	Tool        string           `json:"tool"`
	Method      methodJSON       `json:"method"`
	Runs        []runJSON        `json:"runs"`
	Skipped     []skippedJSON    `json:"skipped"`
	ConfigDiffs []configDiffJSON `json:"config_diffs"`
	Groups      []groupJSON      `json:"groups"`
	Comparisons []comparisonJSON `json:"comparisons"`
	Rehydrate   []rehydrateJSON  `json:"rehydrate"`
	PhaseIO     []phaseIOJSON    `json:"phase_io"`
	Attribution []tierShareJSON  `json:"tier_attribution"`
}

type methodJSON struct {
	Quantile          string    `json:"quantile"`
	Confidence        float64   `json:"confidence"`
	Resamples         int       `json:"resamples"`
	TwoStageResamples int       `json:"two_stage_resamples"`
	Seed              uint64    `json:"seed"`
	Quantiles         []float64 `json:"quantiles"`
	Baseline          string    `json:"baseline"`
	Candidate         string    `json:"candidate"`
	Margin            float64   `json:"margin"`
}

type runJSON struct {
	RunID    string   `json:"run_id"`
	Arm      string   `json:"arm"`
	KVMode   string   `json:"kv_mode"`
	Scenario string   `json:"scenario"`
	Dir      string   `json:"dir"`
	Valid    bool     `json:"valid"`
	Reasons  []string `json:"reasons"`
	Requests int64    `json:"requests"`
}

type skippedJSON struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

type configDiffJSON struct {
	Key         string          `json:"key"`
	Values      []armValuesJSON `json:"values"`
	BetweenArms bool            `json:"between_arms"`
}

type armValuesJSON struct {
	Arm    string   `json:"arm"`
	Values []string `json:"values"`
}

type groupJSON struct {
	Scenario    string          `json:"scenario"`
	Phase       string          `json:"phase"`
	Arm         string          `json:"arm"`
	Concurrency int             `json:"concurrency"`
	Sweep       string          `json:"sweep,omitempty"`
	NRuns       int             `json:"n_runs"`
	NRequests   int             `json:"n_requests"`
	NErrors     int             `json:"n_errors"`
	Metrics     []metricJSON    `json:"metrics"`
	RunMetrics  []runMetricJSON `json:"run_metrics"`
}

type metricJSON struct {
	Name      string         `json:"name"`
	N         int            `json:"n"`
	Quantiles []quantileJSON `json:"quantiles"`
}

type quantileJSON struct {
	P      float64  `json:"p"`
	Value  float64  `json:"value"`
	Lo     *float64 `json:"lo"`
	Hi     *float64 `json:"hi"`
	Method string   `json:"method"`
	Flags  []string `json:"flags"`
}

type runMetricJSON struct {
	Name   string    `json:"name"`
	Mean   float64   `json:"mean"`
	Lo     *float64  `json:"lo"`
	Hi     *float64  `json:"hi"`
	PerRun []float64 `json:"per_run"`
	Method string    `json:"method"`
	Flags  []string  `json:"flags"`
}

type comparisonJSON struct {
	Scenario    string   `json:"scenario"`
	Phase       string   `json:"phase"`
	Concurrency int      `json:"concurrency"`
	Sweep       string   `json:"sweep,omitempty"`
	Metric      string   `json:"metric"`
	P           float64  `json:"quantile"`
	Statistic   string   `json:"statistic"`
	Baseline    float64  `json:"baseline"`
	Candidate   float64  `json:"candidate"`
	Delta       float64  `json:"delta"`
	DeltaLo     *float64 `json:"delta_lo"`
	DeltaHi     *float64 `json:"delta_hi"`
	Ratio       float64  `json:"ratio"`
	RatioLo     *float64 `json:"ratio_lo"`
	RatioHi     *float64 `json:"ratio_hi"`
	PValue      *float64 `json:"p_value"`
	PHolm       *float64 `json:"p_holm"`
	Verdict     string   `json:"verdict"`
	Grade       string   `json:"grade"`
	Flags       []string `json:"flags"`
	Reasons     []string `json:"reasons"`
	Method      string   `json:"method"`
}

type rehydrateJSON struct {
	RunID    string   `json:"run_id"`
	Arm      string   `json:"arm"`
	Verdict  string   `json:"verdict"`
	Evidence []string `json:"evidence"`
	Warnings []string `json:"warnings"`
	Flags    []string `json:"flags"`
}

type phaseIOJSON struct {
	RunID             string             `json:"run_id"`
	Arm               string             `json:"arm"`
	Phase             string             `json:"phase"`
	Repeat            int                `json:"repeat_index"`
	Seconds           float64            `json:"seconds"`
	KVBM              map[string]float64 `json:"kvbm"`
	DeviceReadBytes   *float64           `json:"device_read_bytes"`
	DeviceWriteBytes  *float64           `json:"device_write_bytes"`
	ProcessReadBytes  *float64           `json:"process_read_bytes"`
	ProcessWriteBytes *float64           `json:"process_write_bytes"`
	FilesCreated      *int64             `json:"cache_files_created"`
	FilesRemoved      *int64             `json:"cache_files_removed"`
}

type tierShareJSON struct {
	Arm      string  `json:"arm"`
	Phase    string  `json:"phase"`
	Tier     string  `json:"tier"`
	Requests int     `json:"requests"`
	Share    float64 `json:"share"`
	TTFTp50  float64 `json:"ttft_p50_ms"`
}

// summaryView converts a summary to the summary.json format.
func summaryView(s *analysis.Summary) summaryJSON {
	return summaryJSON{
		Tool:        s.Tool,
		Method:      methodJSON(s.Method),
		Runs:        view(s.Runs, runView),
		Skipped:     view(s.Skipped, func(k analysis.SkippedRun) skippedJSON { return skippedJSON(k) }),
		ConfigDiffs: view(s.ConfigDiffs, configDiffView),
		Groups:      view(s.Groups, groupView),
		Comparisons: view(s.Comparisons, comparisonView),
		Rehydrate:   view(s.Rehydrate, rehydrateView),
		PhaseIO:     view(s.PhaseIO, phaseIOView),
		Attribution: view(s.Attribution, tierShareView),
	}
}

// view converts every element of in; the result is never nil.
func view[T, U any](in []T, f func(T) U) []U {
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// list returns s, or an empty list for nil.
func list[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func runView(r analysis.Run) runJSON {
	r.Reasons = list(r.Reasons)
	return runJSON(r)
}

func configDiffView(d analysis.ConfigDiff) configDiffJSON {
	return configDiffJSON{Key: d.Key, BetweenArms: d.BetweenArms,
		Values: view(d.Values, func(v analysis.ArmValues) armValuesJSON { return armValuesJSON(v) })}
}

func groupView(g analysis.Group) groupJSON {
	out := groupJSON{Scenario: g.Scenario, Phase: g.Phase, Arm: g.Arm, Concurrency: g.Concurrency, Sweep: g.Sweep,
		NRuns: g.NRuns, NRequests: g.NRequests, NErrors: g.NErrors, RunMetrics: view(g.RunMetrics, runMetricView)}
	if g.Metrics != nil {
		out.Metrics = view(g.Metrics, metricView)
	}
	return out
}

func metricView(m analysis.Metric) metricJSON {
	u := metricUnit(m.Unit)
	return metricJSON{Name: metricName(m.Name, m.Unit), N: m.N, Quantiles: view(m.Quantiles, func(q analysis.Quantile) quantileJSON {
		return quantileJSON{P: q.P, Value: u.of(q.Value), Lo: u.ofPtr(q.Lo), Hi: u.ofPtr(q.Hi), Method: q.Method, Flags: list(q.Flags)}
	})}
}

func runMetricView(m analysis.RunMetric) runMetricJSON {
	u := metricUnit(m.Unit)
	return runMetricJSON{Name: metricName(m.Name, m.Unit), Mean: u.of(m.Mean), Lo: u.ofPtr(m.Lo), Hi: u.ofPtr(m.Hi),
		PerRun: view(m.PerRun, u.of), Method: m.Method, Flags: list(m.Flags)}
}

func comparisonView(c analysis.Comparison) comparisonJSON {
	u := metricUnit(c.Unit)
	return comparisonJSON{Scenario: c.Scenario, Phase: c.Phase, Concurrency: c.Concurrency, Sweep: c.Sweep,
		Metric: metricName(c.Metric, c.Unit), P: c.P, Statistic: c.Statistic,
		Baseline: u.of(c.Baseline), Candidate: u.of(c.Candidate), Delta: u.of(c.Delta), DeltaLo: u.ofPtr(c.DeltaLo), DeltaHi: u.ofPtr(c.DeltaHi),
		Ratio: c.Ratio, RatioLo: c.RatioLo, RatioHi: c.RatioHi, PValue: c.PValue, PHolm: c.PHolm,
		Verdict: c.Verdict, Grade: c.Grade, Flags: list(c.Flags), Reasons: list(c.Reasons), Method: c.Method}
}

func rehydrateView(r analysis.Rehydrate) rehydrateJSON {
	evidence, warnings := rehydrateText(r)
	return rehydrateJSON{RunID: r.RunID, Arm: r.Arm, Verdict: r.Verdict, Evidence: list(evidence), Warnings: list(warnings), Flags: list(r.Flags)}
}

func phaseIOView(p analysis.PhaseIO) phaseIOJSON {
	out := phaseIOJSON{RunID: p.RunID, Arm: p.Arm, Phase: p.Phase, Repeat: p.Repeat, Seconds: elapsed.ofInt(p.DurationNs), KVBM: p.KVBM}
	if p.HaveDevice {
		out.DeviceReadBytes, out.DeviceWriteBytes = &p.DeviceReadBytes, &p.DeviceWriteBytes
	}
	if p.HaveProcess {
		out.ProcessReadBytes, out.ProcessWriteBytes = &p.ProcessReadBytes, &p.ProcessWriteBytes
	}
	if p.HaveCacheDir {
		out.FilesCreated, out.FilesRemoved = &p.FilesCreated, &p.FilesRemoved
	}
	return out
}

func tierShareView(t analysis.TierShare) tierShareJSON {
	return tierShareJSON{Arm: t.Arm, Phase: t.Phase, Tier: t.Tier, Requests: t.Requests, Share: t.Share, TTFTp50: timing.of(t.TTFTp50)}
}
