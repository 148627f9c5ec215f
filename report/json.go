package report

import (
	"bytes"
	"encoding/json"
	"io"

	"kvbench/analysis"
	"kvbench/results"
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

// object is a JSON object that keeps its keys in order: the key order of
// summary.json is part of its format, and the functions below spell it
// out, one per record.
type object []member

// member is one key of an object with its value.
type member struct {
	key   string
	value any
}

// MarshalJSON implements json.Marshaler.
func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(m.key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(m.value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// summaryView is summary.json. A list is [] rather than null when empty,
// except a group's metrics.
func summaryView(s *analysis.Summary) object {
	m := s.Method
	return object{
		{"tool", s.Tool},
		{"method", object{{"quantile", m.Quantile}, {"confidence", m.Confidence}, {"resamples", m.Resamples},
			{"two_stage_resamples", m.TwoStageResamples}, {"seed", m.Seed}, {"quantiles", m.Quantiles},
			{"baseline", m.Baseline}, {"candidate", m.Candidate}, {"margin", m.Margin}}},
		{"runs", view(s.Runs, runView)},
		{"skipped", view(s.Skipped, func(k analysis.SkippedRun) object { return object{{"path", k.Path}, {"reason", k.Reason}} })},
		{"config_diffs", view(s.ConfigDiffs, configDiffView)},
		{"groups", view(s.Groups, groupView)},
		{"comparisons", view(s.Comparisons, comparisonView)},
		{"drift", view(s.Drift, driftView)},
		{"rehydrate", view(s.Rehydrate, rehydrateView)},
		{"phase_io", view(s.PhaseIO, phaseIOView)},
		{"tier_attribution", view(s.Attribution, tierShareView)},
		{"header", headerView(s)},
		{"integrity", integrityView(s.Integrity)},
		{"slo", s.SLO},
		{"slo_knees", view(s.Knees, kneeView)},
	}
}

// kneeView is one arm's knee of a request-rate sweep, attainment in
// percent.
func kneeView(k analysis.Knee) object {
	return object{{"scenario", k.Scenario}, {"phase", k.Phase}, {"arm", k.Arm}, {"target_pct", fraction.of(k.Target)},
		{"rate_rps", k.Rate}, {"rate_lo_rps", k.Lo}, {"rate_hi_rps", k.Hi},
		{"points", view(k.Points, func(p analysis.RatePoint) object {
			return object{{"rate_rps", p.Rate}, {"attainment_pct", fraction.of(p.Attainment)},
				{"lo_pct", fraction.of(p.Lo)}, {"hi_pct", fraction.of(p.Hi)}, {"runs", p.Runs}}
		})}}
}

// integrityView is the KV integrity check: per run and per arm, repeated
// answers compared with their first answer and how many changed.
func integrityView(in analysis.Integrity) object {
	return object{
		{"threshold", in.Threshold},
		{"runs", view(in.Runs, func(r analysis.RunIntegrity) object {
			return object{{"run_id", r.RunID}, {"arm", r.Arm}, {"compared", r.Compared}, {"changed", r.Changed}, {"flagged", r.Flagged}}
		})},
		{"arms", view(in.Arms, func(a analysis.ArmIntegrity) object {
			return object{{"arm", a.Arm}, {"compared", a.Compared}, {"changed", a.Changed}, {"share", a.Share()}}
		})},
		{"p_value", in.PValue},
		{"finding", in.Finding},
	}
}

// headerView is what was measured, as the report's header shows it.
func headerView(s *analysis.Summary) object {
	h := s.Header
	targets := view(h.Targets, func(t analysis.Target) object {
		return object{{"model", t.Model}, {"host", t.Host}, {"simulator", t.Simulator}, {"arms", list(t.Arms)}}
	})
	hosts := view(h.Hosts, func(x results.Host) object {
		return object{{"hostname", x.Hostname}, {"os", x.OS}, {"arch", x.Arch}, {"kernel", x.Kernel}, {"num_cpu", x.NumCPU}, {"go_version", x.GoVer}}
	})
	settings := func(ss []analysis.Setting) object {
		o := object{}
		for _, st := range ss {
			o = append(o, member{st.Key, st.Value})
		}
		return o
	}
	var first, last any // null when no manifest recorded a start
	if h.FirstStartNs != 0 {
		first, last = utc(h.FirstStartNs), utc(h.LastStartNs)
	}
	return object{{"targets", targets}, {"hosts", hosts}, {"tool_versions", list(h.ToolVersions)},
		{"first_run_start", first}, {"last_run_start", last}, {"campaigns", list(h.Campaigns)}, {"scenarios", list(h.Scenarios)},
		{"shared_settings", settings(h.Shared)}, {"phase_concurrency", settings(h.PhaseConcurrency)}, {"method_doc", MethodDoc}}
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

func runView(r analysis.Run) object {
	return object{{"run_id", r.RunID}, {"arm", r.Arm}, {"kv_mode", r.KVMode}, {"scenario", r.Scenario}, {"dir", r.Dir},
		{"valid", r.Valid}, {"reasons", list(r.Reasons)}, {"requests", r.Requests}}
}

func configDiffView(d analysis.ConfigDiff) object {
	values := view(d.Values, func(v analysis.ArmValues) object { return object{{"arm", v.Arm}, {"values", list(v.Values)}} })
	return object{{"key", d.Key}, {"values", values}, {"between_arms", d.BetweenArms}}
}

// where returns the members that place a group or comparison; the sweep
// point only inside a sweep.
func where(scenario, phase string, pass int, arm *string, concurrency int, sweep string) object {
	o := object{{"scenario", scenario}, {"phase", phase}}
	if pass > 0 {
		o = append(o, member{"pass", pass}) // only for a phase the scenario repeats
	}
	if arm != nil {
		o = append(o, member{"arm", *arm})
	}
	o = append(o, member{"concurrency", concurrency})
	if sweep != "" {
		o = append(o, member{"sweep", sweep})
	}
	return o
}

// withSplit adds a trace run's prefix split to a group's or comparison's
// place.
func withSplit(o object, split string) object {
	if split == "" {
		return o
	}
	return append(o, member{"split", split})
}

func groupView(g analysis.Group) object {
	var metrics []object // null, not [], for a group without per-request metrics
	if g.Metrics != nil {
		metrics = view(g.Metrics, metricView)
	}
	return append(withSplit(where(g.Scenario, g.Phase, g.Pass, &g.Arm, g.Concurrency, g.Sweep), g.Split),
		member{"n_runs", g.NRuns}, member{"n_requests", g.NRequests}, member{"n_errors", g.NErrors},
		member{"metrics", metrics}, member{"run_metrics", view(g.RunMetrics, runMetricView)})
}

func metricView(m analysis.Metric) object {
	u := metricUnit(m.Unit)
	quantiles := view(m.Quantiles, func(q analysis.Quantile) object {
		return object{{"p", q.P}, {"value", u.of(q.Value)}, {"lo", u.ofPtr(q.Lo)}, {"hi", u.ofPtr(q.Hi)},
			{"method", q.Method}, {"scope", q.Scope}, {"flags", list(q.Flags)}}
	})
	return object{{"name", metricName(m.Name, m.Unit)}, {"n", m.N}, {"quantiles", quantiles}}
}

func runMetricView(m analysis.RunMetric) object {
	u := metricUnit(m.Unit)
	return object{{"name", metricName(m.Name, m.Unit)}, {"mean", u.of(m.Mean)}, {"lo", u.ofPtr(m.Lo)}, {"hi", u.ofPtr(m.Hi)},
		{"per_run", view(m.PerRun, u.of)}, {"method", m.Method}, {"flags", list(m.Flags)}}
}

func comparisonView(c analysis.Comparison) object {
	u := metricUnit(c.Unit)
	return append(withSplit(where(c.Scenario, c.Phase, c.Pass, nil, c.Concurrency, c.Sweep), c.Split),
		member{"metric", metricName(c.Metric, c.Unit)}, member{"quantile", c.P}, member{"statistic", c.Statistic},
		member{"baseline", u.of(c.Baseline)}, member{"candidate", u.of(c.Candidate)},
		member{"delta", u.of(c.Delta)}, member{"delta_lo", u.ofPtr(c.DeltaLo)}, member{"delta_hi", u.ofPtr(c.DeltaHi)},
		member{"ratio", c.Ratio}, member{"ratio_lo", c.RatioLo}, member{"ratio_hi", c.RatioHi},
		member{"p_value", c.PValue}, member{"p_holm", c.PHolm}, member{"verdict", c.Verdict}, member{"grade", c.Grade},
		member{"flags", list(c.Flags)}, member{"reasons", list(c.Reasons)}, member{"method", c.Method})
}

// driftView is one arm's time trend; slope, lo and hi are log median TTFT
// per hour.
func driftView(d analysis.Drift) object {
	return append(where(d.Scenario, d.Phase, 0, nil, d.Concurrency, d.Sweep),
		member{"arm", d.Arm}, member{"metric", d.Metric}, member{"runs", d.Runs},
		member{"slope_per_hour", d.SlopePerHour}, member{"slope_lo", d.Lo}, member{"slope_hi", d.Hi},
		member{"p_value", d.PValue}, member{"change", d.Change}, member{"arm_difference", d.ArmDifference},
		member{"flag", d.Flag})
}

func rehydrateView(r analysis.Rehydrate) object {
	evidence, warnings := rehydrateText(r)
	e := r.Requests
	return object{{"run_id", r.RunID}, {"arm", r.Arm}, {"verdict", r.Verdict},
		{"evidence", list(evidence)}, {"warnings", list(warnings)}, {"flags", list(r.Flags)},
		{"sources", list(r.Sources)},
		{"requests", object{{"replay_ttft_p50_ms", timing.of(e.ReplayTTFTNs)}, {"reference_phase", e.ReferencePhase},
			{"reference_ttft_p50_ms", timing.of(e.ReferenceTTFTNs)}, {"ttft_shift", e.TTFTShift()},
			{"replay_cached_tokens", cachedTokens(e)}, {"replay_prompt_tokens", e.ReplayPromptTokens}}}}
}

// cachedTokens is the replay's cached tokens, or null when the server
// reported none.
func cachedTokens(e analysis.RequestEvidence) *int64 {
	if !e.HaveCachedTokens {
		return nil
	}
	return &e.ReplayCachedTokens
}

func phaseIOView(p analysis.PhaseIO) object {
	o := object{{"run_id", p.RunID}, {"arm", p.Arm}, {"phase", p.Phase}, {"repeat_index", p.Repeat},
		{"seconds", elapsed.ofInt(p.DurationNs)}, {"kvbm", p.KVBM}}
	for _, b := range []struct {
		have        bool
		read, write string
		r, w        any
	}{
		{p.HaveDevice, "device_read_bytes", "device_write_bytes", p.DeviceReadBytes, p.DeviceWriteBytes},
		{p.HaveProcess, "process_read_bytes", "process_write_bytes", p.ProcessReadBytes, p.ProcessWriteBytes},
		{p.HaveCacheDir, "cache_files_created", "cache_files_removed", p.FilesCreated, p.FilesRemoved},
	} {
		if !b.have {
			b.r, b.w = nil, nil // not sampled: null
		}
		o = append(o, member{b.read, b.r}, member{b.write, b.w})
	}
	return o
}

func tierShareView(t analysis.TierShare) object {
	return object{{"arm", t.Arm}, {"phase", t.Phase}, {"tier", t.Tier}, {"requests", t.Requests},
		{"share", t.Share}, {"ttft_p50" + timing.suffix, timing.of(t.TTFTp50)}}
}
