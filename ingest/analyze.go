package ingest

import (
	"hash/fnv"
	"sort"
	"strconv"
	"strings"

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
	Margin    float64
	// Resamples overrides the bootstrap replicate counts (0: the stats
	// defaults, 9999 and 2000).
	Resamples int
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
	so := stats.DefaultOptions()
	so.Seed = opt.Seed
	if opt.Margin > 0 {
		so.Margin = opt.Margin
	}
	if opt.Resamples > 0 {
		so.Resamples, so.TwoStageResamples = opt.Resamples, opt.Resamples
	}
	s := &report.Summary{
		Tool: "kvbench analyze " + results.Version,
		Method: report.Method{
			Quantile: "Hyndman-Fan type 7 (numpy linear)", Confidence: so.Confidence, Seed: opt.Seed,
			Resamples: so.Resamples, TwoStageResamples: so.TwoStageResamples,
			Quantiles: opt.Quantiles, Baseline: opt.Baseline, Candidate: opt.Candidate, Margin: so.Margin,
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
	s.ConfigDiffs = configDiffs(ds.Bundles)
	// Comparisons first: they estimate both arms, and the group tables
	// reuse those estimates so a row and its comparison show the same
	// interval (and the work is not done twice).
	var armEst map[armKey][]stats.Estimate
	s.Comparisons, armEst = compare(ds, opt, so)
	for _, g := range ds.Groups {
		n, fails := g.Requests()
		rg := report.Group{
			Scenario: g.Key.Scenario, Phase: g.Key.Phase, Arm: g.Key.TierMode, Concurrency: g.Key.Concurrency, Sweep: g.Key.Sweep,
			NRuns: len(g.Runs), NRequests: n, NErrors: fails,
		}
		for _, mt := range metrics {
			pooled := g.Pooled(mt.get)
			if len(pooled) == 0 {
				continue
			}
			sort.Float64s(pooled)
			rm := report.Metric{Name: mt.name, N: len(pooled)}
			ests, ok := armEst[armKey{g.Key, mt.name}]
			if !ok {
				o := so
				o.Stream = streamOf(g.Key, mt.name)
				ests = stats.EstimateQuantiles(runsOf(g, mt.get), opt.Quantiles, failuresFor(g, mt.name), o)
			}
			for _, e := range ests {
				rm.Quantiles = append(rm.Quantiles, quantileOf(e))
			}
			rg.Metrics = append(rg.Metrics, rm)
			if mt.name == "ttft_ms" {
				s.Distributions = append(s.Distributions, report.Distribution{
					Scenario: g.Key.Scenario, Phase: g.Key.Phase, Arm: g.Key.TierMode, Metric: mt.name, Sorted: pooled,
				})
			}
		}
		for _, rm := range runMetrics {
			e := stats.RunMean(perRun(g, rm.get), so)
			m := report.RunMetric{Name: rm.name, Mean: e.Value, PerRun: e.PerRun, Method: e.Method, Flags: append([]string{}, e.Flags...)}
			if e.Method != stats.MethodNone {
				m.Lo, m.Hi = ptr(e.Lo), ptr(e.Hi)
			}
			rg.RunMetrics = append(rg.RunMetrics, m)
		}
		s.Groups = append(s.Groups, rg)
	}
	s.Rehydrate, s.PhaseIO, s.IOSeries, s.Attribution = telemetrySummary(ds)
	gradeWithEvidence(s, opt)
	for _, tl := range ds.Timelines {
		rt := report.Timeline{RunID: tl.RunID, Arm: tl.Arm}
		for _, ph := range tl.Phases {
			rt.Phases = append(rt.Phases, report.Span{Name: ph.Name,
				Start: float64(ph.StartUnixNs-tl.StartNs) / 1e9, End: float64(ph.EndUnixNs-tl.StartNs) / 1e9})
		}
		for _, p := range tl.Points {
			rt.T = append(rt.T, p.TSec)
			rt.TTFT = append(rt.TTFT, p.TTFTMs)
		}
		s.Timelines = append(s.Timelines, rt)
	}
	mergeDistributions(s)
	return s
}

// runMetrics are computed once per run and compared over runs.
var runMetrics = []struct {
	name string
	get  func(*Series) (float64, bool)
}{
	{"throughput_rps", func(s *Series) (float64, bool) {
		w := float64(s.LastEndNs-s.FirstStartNs) / 1e9
		return float64(s.Requests-s.Failures) / w, w > 0
	}},
	{"output_tokens_per_s", func(s *Series) (float64, bool) {
		w := float64(s.LastEndNs-s.FirstStartNs) / 1e9
		return float64(s.OutputTokens) / w, w > 0 && s.OutputTokens > 0
	}},
}

func perRun(g *Group, get func(*Series) (float64, bool)) []float64 {
	var out []float64
	for _, r := range g.Runs {
		if v, ok := get(r); ok {
			out = append(out, v)
		}
	}
	return out
}

// runsOf returns a metric's per-run samples of a group.
func runsOf(g *Group, get func(*Series) []float64) [][]float64 {
	out := make([][]float64, 0, len(g.Runs))
	for _, r := range g.Runs {
		if v := get(r); len(v) > 0 {
			out = append(out, v)
		}
	}
	return out
}

// failuresFor counts failed requests as censored observations of the
// request-level metrics (they would have been slow); ITL has no such count.
func failuresFor(g *Group, metric string) int {
	if metric == "itl_ms" {
		return 0
	}
	_, f := g.Requests()
	return f
}

// streamOf derives a random stream from a group's keys, so each group's
// resampling is independent of the others and of their order.
func streamOf(k Key, metric string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(k.Scenario + "\x00" + k.Phase + "\x00" + k.TierMode + "\x00" + metric))
	if k.Sweep != "" {
		h.Write([]byte("\x00" + k.Sweep))
	}
	h.Write([]byte{byte(k.Concurrency), byte(k.Concurrency >> 8), byte(k.Concurrency >> 16)})
	return h.Sum64() &^ 1 // even: Compare uses Stream and Stream+1
}

func quantileOf(e stats.Estimate) report.Quantile {
	q := report.Quantile{P: e.P, Value: e.Value, Method: e.Method, Flags: append([]string{}, e.Flags...)}
	if e.Method != stats.MethodNone {
		q.Lo, q.Hi = ptr(e.Lo), ptr(e.Hi)
	}
	return q
}

func ptr(v float64) *float64 { return &v }

// armKey identifies one arm's estimates of one metric in one group.
type armKey struct {
	key    Key
	metric string
}

// compare pairs the candidate arm with the baseline arm in every
// (scenario, phase, concurrency) where both exist. It also returns each
// compared arm's quantile estimates.
func compare(ds *Dataset, opt Options, so stats.Options) ([]report.Comparison, map[armKey][]stats.Estimate) {
	est := map[armKey][]stats.Estimate{}
	type cell struct {
		scenario, phase string
		conc            int
		sweep           string
	}
	arms := map[cell]map[string]*Group{}
	var cells []cell
	for _, g := range ds.Groups {
		c := cell{g.Key.Scenario, g.Key.Phase, g.Key.Concurrency, g.Key.Sweep}
		if arms[c] == nil {
			arms[c] = map[string]*Group{}
			cells = append(cells, c)
		}
		arms[c][g.Key.TierMode] = g
	}
	out := []report.Comparison{}
	for _, c := range cells {
		base, cand := arms[c][opt.Baseline], arms[c][opt.Candidate]
		if base == nil || cand == nil {
			continue
		}
		for _, mt := range metrics {
			br, cr := runsOf(base, mt.get), runsOf(cand, mt.get)
			if len(br) == 0 || len(cr) == 0 {
				continue
			}
			o := so
			o.Stream = streamOf(Key{c.scenario, c.phase, opt.Baseline + ">" + opt.Candidate, c.conc, c.sweep}, mt.name)
			cmps := stats.CompareQuantiles(br, cr, opt.Quantiles, failuresFor(base, mt.name), failuresFor(cand, mt.name), o)
			var ps []float64
			for _, cmp := range cmps {
				if cmp.Method != stats.MethodNone {
					ps = append(ps, cmp.PValue)
				}
			}
			holm := stats.HolmAdjust(ps)
			for _, cmp := range cmps {
				est[armKey{base.Key, mt.name}] = append(est[armKey{base.Key, mt.name}], cmp.Baseline)
				est[armKey{cand.Key, mt.name}] = append(est[armKey{cand.Key, mt.name}], cmp.Candidate)
				rc := report.Comparison{
					Scenario: c.scenario, Phase: c.phase, Concurrency: c.conc, Sweep: c.sweep, Metric: mt.name, P: cmp.P, Statistic: "p" + pctString(cmp.P),
					Baseline: cmp.Baseline.Value, Candidate: cmp.Candidate.Value,
					Delta: cmp.Delta, Ratio: cmp.Ratio, Verdict: verdictWords[cmp.Verdict], Grade: gradeWords[cmp.Grade],
					Flags: append([]string{}, cmp.Flags...), Reasons: append([]string{}, cmp.Reasons...), Method: cmp.Method,
				}
				if cmp.Method != stats.MethodNone {
					rc.DeltaLo, rc.DeltaHi = ptr(cmp.DeltaLo), ptr(cmp.DeltaHi)
					rc.RatioLo, rc.RatioHi = ptr(cmp.RatioLo), ptr(cmp.RatioHi)
					rc.PValue = ptr(cmp.PValue)
					rc.PHolm = ptr(holm[0])
					holm = holm[1:]
				}
				out = append(out, rc)
			}
		}
		for _, rm := range runMetrics {
			bv, cv := perRun(base, rm.get), perRun(cand, rm.get)
			if len(bv) == 0 || len(cv) == 0 {
				continue
			}
			o := so
			o.HigherIsBetter = true
			cmp := stats.CompareRunMeans(bv, cv, o)
			rc := report.Comparison{Scenario: c.scenario, Phase: c.phase, Concurrency: c.conc, Sweep: c.sweep, Metric: rm.name, Statistic: "mean",
				Baseline: cmp.Baseline.Value, Candidate: cmp.Candidate.Value, Delta: cmp.Delta, Ratio: cmp.Ratio,
				Verdict: verdictWords[cmp.Verdict], Grade: gradeWords[cmp.Grade], Flags: nonNil(cmp.Flags), Reasons: nonNil(cmp.Reasons), Method: cmp.Method}
			if cmp.Method != stats.MethodNone {
				rc.DeltaLo, rc.DeltaHi = ptr(cmp.DeltaLo), ptr(cmp.DeltaHi)
				rc.RatioLo, rc.RatioHi = ptr(cmp.RatioLo), ptr(cmp.RatioHi)
				rc.PValue = ptr(cmp.PValue)
			}
			out = append(out, rc)
		}
	}
	return out, est
}

// pctString formats 0.99 as "99".
func pctString(p float64) string { return strconv.FormatFloat(p*100, 'f', -1, 64) }

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

// perRunKeys are settings that differ between runs by design.
var perRunKeys = map[string]bool{
	"run-id": true, "tier-mode": true, "kv-mode": true, "base-url": true, "results-dir": true,
	"metrics-kvbm-url": true, "metrics-system-url": true, "metrics-frontend-url": true, "metrics-url": true,
	"no-progress": true, "cpuprofile": true, "dry-run": true, "api-key-env": true,
}

// configDiffs finds capture settings whose values differ between runs.
func configDiffs(bundles []Bundle) []report.ConfigDiff {
	keys := map[string]bool{}
	for _, b := range bundles {
		for k := range b.Manifest.Config {
			keys[k] = true
		}
	}
	var sorted []string
	for k := range keys {
		if !perRunKeys[k] {
			sorted = append(sorted, k)
		}
	}
	sort.Strings(sorted)
	out := []report.ConfigDiff{}
	for _, k := range sorted {
		byArm := map[string]map[string]bool{}
		all := map[string]bool{}
		for _, b := range bundles {
			v, ok := b.Manifest.Config[k]
			if !ok {
				v = "(unset)"
			}
			arm := b.Manifest.TierMode
			if byArm[arm] == nil {
				byArm[arm] = map[string]bool{}
			}
			byArm[arm][v] = true
			all[v] = true
		}
		if len(all) < 2 {
			continue
		}
		d := report.ConfigDiff{Key: k}
		var arms []string
		for a := range byArm {
			arms = append(arms, a)
		}
		sort.Strings(arms)
		var first string
		for i, a := range arms {
			var vals []string
			for v := range byArm[a] {
				vals = append(vals, v)
			}
			sort.Strings(vals)
			joined := strings.Join(vals, "\x00")
			if i == 0 {
				first = joined
			} else if joined != first {
				d.BetweenArms = true
			}
			d.Values = append(d.Values, report.ArmValues{Arm: a, Values: vals})
		}
		out = append(out, d)
	}
	return out
}

// telemetrySummary judges every run's tier evidence and collects its
// per-phase deltas and time series.
func telemetrySummary(ds *Dataset) ([]report.Rehydrate, []report.PhaseIO, []report.IOSeries, []report.TierShare) {
	reh := []report.Rehydrate{}
	pio := []report.PhaseIO{}
	var series []report.IOSeries
	type apk struct{ arm, phase string }
	pooled := map[apk]map[string][]float64{}
	var apOrder []apk
	for _, b := range ds.Bundles {
		rt, err := LoadTelemetry(b)
		if err != nil {
			reh = append(reh, report.Rehydrate{RunID: b.Manifest.RunID, Arm: b.Manifest.TierMode, Verdict: RehydrateNoEvidence,
				Evidence: []string{}, Warnings: []string{"telemetry unreadable: " + err.Error()}, Flags: []string{}})
			continue
		}
		if attrs, err := Attribute(b, rt); err == nil {
			for _, a := range attrs {
				k := apk{a.Arm, a.Phase}
				if pooled[k] == nil {
					pooled[k] = map[string][]float64{}
					apOrder = append(apOrder, k)
				}
				for label, v := range a.TTFT {
					pooled[k][label] = append(pooled[k][label], v...)
				}
			}
		}
		j := JudgeRehydrate(rt, RehydrateOptions{})
		reh = append(reh, report.Rehydrate{RunID: j.RunID, Arm: j.Arm, Verdict: j.Verdict,
			Evidence: nonNil(j.Evidence), Warnings: nonNil(j.Warnings), Flags: nonNil(j.Flags)})
		for _, p := range rt.Phases {
			if len(p.KVBM) == 0 && !p.HaveDevice && !p.HaveProcess && !p.HaveCacheDir {
				continue // nothing was sampled in this phase
			}
			row := report.PhaseIO{RunID: rt.RunID, Arm: rt.Arm, Phase: p.Phase, Repeat: p.Repeat, Seconds: p.Seconds, KVBM: p.KVBM}
			if p.HaveDevice {
				row.DeviceReadBytes, row.DeviceWriteBytes = ptr(p.DeviceReadBytes), ptr(p.DeviceWriteBytes)
			}
			if p.HaveProcess {
				row.ProcessReadBytes, row.ProcessWriteBytes = ptr(p.ProcessReadBytes), ptr(p.ProcessWriteBytes)
			}
			if p.HaveCacheDir {
				fc, fr := p.FilesCreated, p.FilesRemoved
				row.FilesCreated, row.FilesRemoved = &fc, &fr
			}
			pio = append(pio, row)
		}
		ios := report.IOSeries{RunID: rt.RunID, Arm: rt.Arm, Counters: map[string][][2]float64{}}
		for _, ph := range b.Manifest.Phases {
			ios.Phases = append(ios.Phases, report.Span{Name: ph.Name,
				Start: float64(ph.StartUnixNs-rt.StartNs) / 1e9, End: float64(ph.EndUnixNs-rt.StartNs) / 1e9})
		}
		for _, p := range rt.DiskRead {
			ios.DiskRead = append(ios.DiskRead, [2]float64{p.T, p.V})
		}
		for _, p := range rt.DiskWrite {
			ios.DiskWrite = append(ios.DiskWrite, [2]float64{p.T, p.V})
		}
		for role, pts := range rt.Counters {
			for _, p := range pts {
				ios.Counters[role] = append(ios.Counters[role], [2]float64{p.T, p.V})
			}
		}
		series = append(series, ios)
	}
	sort.SliceStable(apOrder, func(i, j int) bool {
		if apOrder[i].arm != apOrder[j].arm {
			return apOrder[i].arm < apOrder[j].arm
		}
		return phaseRank(apOrder[i].phase) < phaseRank(apOrder[j].phase)
	})
	shares := []report.TierShare{}
	for _, k := range apOrder {
		total := 0
		for _, v := range pooled[k] {
			total += len(v)
		}
		for _, label := range TierLabels {
			v := pooled[k][label]
			if len(v) == 0 {
				continue
			}
			sort.Float64s(v)
			shares = append(shares, report.TierShare{Arm: k.arm, Phase: k.phase, Tier: label, Requests: len(v),
				Share: float64(len(v)) / float64(total), TTFTp50: stats.Quantile(v, 0.5)})
		}
	}
	return reh, pio, series, shares
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// gradeWithEvidence keeps a comparison provisional unless the tier
// counters support it (stats.md §8.4: decision-grade needs the §6 checks
// to pass): every candidate run on the disk tier must show a rehydrate,
// and no baseline run may read the disk during replay.
func gradeWithEvidence(s *report.Summary, opt Options) {
	flagsByArm := map[string]map[string]bool{}
	noEvidence := map[string]bool{}
	for _, r := range s.Rehydrate {
		if flagsByArm[r.Arm] == nil {
			flagsByArm[r.Arm] = map[string]bool{}
		}
		for _, f := range r.Flags {
			flagsByArm[r.Arm][f] = true
		}
		if r.Verdict == RehydrateNoEvidence {
			noEvidence[r.Arm] = true
		}
	}
	var extra, reasons []string
	for _, f := range []string{"DISK_TIER_INACTIVE", "NO_REHYDRATE", "PAGE_CACHE_MASKING"} {
		if flagsByArm[opt.Candidate][f] {
			extra = append(extra, f)
		}
	}
	if flagsByArm[opt.Baseline]["CONTROL_CONTAMINATED"] {
		extra = append(extra, "CONTROL_CONTAMINATED")
	}
	why := map[string]string{
		"DISK_TIER_INACTIVE":   "a candidate run never offloaded to disk",
		"NO_REHYDRATE":         "a candidate disk-tier run shows no onboarding from disk in replay",
		"PAGE_CACHE_MASKING":   "disk onboarding was served from the page cache",
		"CONTROL_CONTAMINATED": "a baseline run read from the disk during replay",
	}
	for _, f := range extra {
		reasons = append(reasons, why[f])
	}
	if noEvidence[opt.Candidate] || noEvidence[opt.Baseline] {
		extra = append(extra, "NO_TIER_EVIDENCE")
		reasons = append(reasons, "no KVBM counters captured for some runs, so the tier behind the difference is unproven")
	}
	if len(extra) == 0 {
		return
	}
	for i := range s.Comparisons {
		c := &s.Comparisons[i]
		c.Flags = append(c.Flags, extra...)
		c.Reasons = append(c.Reasons, reasons...)
		if c.Grade == results.GradeDecision {
			c.Grade = results.GradeProvisional
		}
	}
}

// verdictWords and gradeWords name the stats outcomes with the shared words.
var (
	verdictWords = map[stats.Verdict]string{stats.VerdictBetter: results.VerdictBetter, stats.VerdictWorse: results.VerdictWorse,
		stats.VerdictEquivalent: results.VerdictEquivalent, stats.VerdictInconclusive: results.VerdictInconclusive,
		stats.VerdictInsufficient: results.VerdictInsufficient}
	gradeWords = map[stats.Grade]string{stats.GradeDecision: results.GradeDecision, stats.GradeProvisional: results.GradeProvisional}
)
