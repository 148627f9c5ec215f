package report

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"kvbench/analysis"
	"kvbench/results"
)

// Markdown writes report.md: the title and the verdict first, then what
// was measured, the verdict by quantile, runs, the notes legend,
// per-metric tables, throughput, every comparison, tier evidence, I/O,
// plots, settings and method. It is byte-stable for the same summary.
func Markdown(w io.Writer, s *analysis.Summary, plots ...PlotRef) error {
	var b bytes.Buffer
	for _, section := range []func(*bytes.Buffer, *analysis.Summary){
		titleSection, verdictSection, headerSection, verdictTableSection, runsSection, notesSection,
		metricSections, throughputSection, sloSection, comparisonsSection, rehydrateSection, integritySection,
		attributionSection, ioSection,
	} {
		section(&b, s)
	}
	plotsSection(&b, plots)
	settingsSection(&b, s)
	methodSection(&b, s)
	_, err := w.Write(b.Bytes())
	return err
}

// primaryRows returns the TTFT comparisons of the primary phases: the
// ones a verdict is about.
func primaryRows(s *analysis.Summary) []analysis.Comparison {
	var rows []analysis.Comparison
	for _, c := range s.Comparisons {
		if c.Metric == results.MetricTTFT && results.IsPrimaryPhase(c.Phase) {
			rows = append(rows, c)
		}
	}
	return rows
}

// verdictSection writes the first screen: the median TTFT change of the
// candidate in each primary phase with its interval, verdict and grade,
// what the other phases show, throughput, and the tier evidence. Each
// line is its own function.
func verdictSection(b *bytes.Buffer, s *analysis.Summary) {
	b.WriteString("## Verdict\n\n")
	rows := primaryRows(s)
	if len(rows) == 0 {
		fmt.Fprintf(b, "No comparison: the data has no measured phase with both %s (baseline) and %s (candidate) runs.\n\n",
			esc(s.Method.Baseline), esc(s.Method.Candidate))
		return
	}
	goodputLines(b, s)
	for _, c := range rows {
		if c.P == 0.5 {
			headline(b, s, c)
		}
	}
	otherPhasesLine(b, s)
	unstreamedLine(b, s)
	throughputLine(b, s)
	tierEvidenceLines(b, s)
	b.WriteString(driftLine(s))
	if st := s.Integrity.Statement(s.Method.Baseline, s.Method.Candidate); st != "" {
		fmt.Fprintf(b, "- %s\n", esc(st))
	}
	b.WriteString("\n")
}

// placeOf names a comparison's place in prose: "rehydrate_replay replay, c1".
func placeOf(c analysis.Comparison) string {
	return esc(c.Scenario) + " " + phaseCell(c.Phase, c.Pass, c.Sweep, c.Split) + ", c" + itoa(c.Concurrency)
}

// headline writes one median comparison as a percent change: "B2 vs B1,
// replay p50 TTFT: −56% [−59%, −49%], better, decision-grade".
func headline(b *bytes.Buffer, s *analysis.Summary, c analysis.Comparison) {
	base, cand := esc(s.Method.Baseline), esc(s.Method.Candidate)
	fmt.Fprintf(b, "- **%s vs %s, %s, p50 TTFT: %s, %s, %s** (%s %s %s, %s %s %s).\n",
		cand, base, placeOf(c), changeInterval(c), esc(c.Verdict), esc(c.Grade),
		cand, num(timing.of(c.Candidate)), timing.word, base, num(timing.of(c.Baseline)), timing.word)
}

// otherPhasesLine says whether the candidate pays a penalty in the phases
// that are not verdict phases (populate, thrash, baseline replay).
func otherPhasesLine(b *bytes.Buffer, s *analysis.Summary) {
	var parts, worse []string
	for _, c := range s.Comparisons {
		if c.Metric != results.MetricTTFT || c.P != 0.5 || results.IsPrimaryPhase(c.Phase) {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s (%s)", phaseCell(c.Phase, c.Pass, c.Sweep, c.Split), changeInterval(c), esc(c.Verdict)))
		if c.Verdict == results.VerdictWorse {
			worse = append(worse, phaseCell(c.Phase, c.Pass, c.Sweep, c.Split))
		}
	}
	if len(parts) == 0 {
		return
	}
	penalty := "no other phase is significantly worse for " + esc(s.Method.Candidate)
	if len(worse) > 0 {
		penalty = "**" + esc(s.Method.Candidate) + " pays a penalty in " + strings.Join(worse, ", ") + "**"
	}
	fmt.Fprintf(b, "- Other phases, p50 TTFT: %s: %s.\n", strings.Join(parts, ", "), penalty)
}

// unstreamedLine says what TTFT means when any run was captured with
// --stream=false: the first byte of the whole response, not the first
// token.
func unstreamedLine(b *bytes.Buffer, s *analysis.Summary) {
	off := false
	for _, st := range s.Header.Shared {
		off = off || (st.Key == "stream" && st.Value == "false")
	}
	for _, d := range s.ConfigDiffs {
		for _, av := range d.Values {
			off = off || (d.Key == "stream" && slices.Contains(av.Values, "false"))
		}
	}
	if off {
		b.WriteString("- **TTFT of runs captured with `--stream=false` is the first byte of the whole response** (the full completion), not the first token.\n")
	}
}

// throughputLine gives the request throughput of the verdict phases next
// to the headline.
func throughputLine(b *bytes.Buffer, s *analysis.Summary) {
	for _, c := range s.Comparisons {
		if c.Metric != results.MetricThroughput || !results.IsPrimaryPhase(c.Phase) {
			continue
		}
		fmt.Fprintf(b, "- Throughput, %s: %s %s req/s vs %s %s req/s, %s (%s).\n", placeOf(c),
			esc(s.Method.Candidate), num(c.Candidate), esc(s.Method.Baseline), num(c.Baseline), changeInterval(c), esc(c.Verdict))
	}
}

// tierEvidenceLines counts the candidate's runs with a disk rehydrate,
// among the runs whose KVBM counters were captured, and names the runs of
// either arm without counters.
func tierEvidenceLines(b *bytes.Buffer, s *analysis.Summary) {
	for _, arm := range []string{s.Method.Candidate, s.Method.Baseline} {
		observed, counted, missing := rehydrateCount(s, arm)
		if arm == s.Method.Candidate && counted > 0 {
			fmt.Fprintf(b, "- Tier evidence: disk rehydrate observed in %d of %d %s runs with KVBM counters.\n", observed, counted, esc(arm))
		}
		if len(missing) > 0 {
			fmt.Fprintf(b, "- Tier evidence: no KVBM counters were captured for %d %s run(s) (%s), so whether the disk tier served them is unknown.\n",
				len(missing), esc(arm), esc(strings.Join(missing, ", ")))
		}
	}
}

// verdictTableSection writes every quantile of the verdict phases with
// its interval, verdict and grade, and why provisional rows are.
func verdictTableSection(b *bytes.Buffer, s *analysis.Summary) {
	rows := primaryRows(s)
	if len(rows) == 0 {
		return
	}
	base, cand := esc(s.Method.Baseline), esc(s.Method.Candidate)
	b.WriteString("## Verdict by quantile\n\n")
	fmt.Fprintf(b, "Time to first token, %s (candidate) against %s (baseline), in %s; change = %s / %s − 1, negative is faster. "+
		"better or worse: the %s%% interval of the change excludes 0; equivalent: it lies within ±%s%%.\n\n",
		cand, base, timing.word, cand, base, pct(s.Method.Confidence), pct(s.Method.Margin))
	b.WriteString("| scenario | phase | conc | TTFT | " + base + " | " + cand + " | change [CI] | delta [CI] | p | verdict | grade |\n")
	b.WriteString("|---|---|---:|---|---:|---:|---|---|---:|---|---|\n")
	var why []string
	for _, c := range rows {
		u := metricUnit(c.Unit)
		fmt.Fprintf(b, "| %s | %s | %d | p%s | %s | %s | %s | %s | %s | **%s** | %s |\n",
			esc(c.Scenario), phaseCell(c.Phase, c.Pass, c.Sweep, c.Split), c.Concurrency, pct(c.P), num(u.of(c.Baseline)), num(u.of(c.Candidate)),
			changeInterval(c), interval(u.of(c.Delta), u.ofPtr(c.DeltaLo), u.ofPtr(c.DeltaHi), signedNum), pval(c.PValue), esc(c.Verdict), esc(c.Grade))
		if c.Grade != results.GradeDecision && len(c.Reasons) > 0 {
			why = append(why, fmt.Sprintf("- %s, p%s: %s", placeOf(c), pct(c.P), esc(strings.Join(c.Reasons, "; "))))
		}
	}
	if len(why) > 0 {
		b.WriteString("\nWhy rows are provisional:\n\n" + strings.Join(why, "\n") + "\n")
	}
	b.WriteString("\n")
}

// driftLine is the verdict area's one line on time trends of per-run
// median TTFT within arms; "" when no arm has three runs.
func driftLine(s *analysis.Summary) string {
	if len(s.Drift) == 0 {
		return ""
	}
	var flagged []string
	for _, d := range s.Drift {
		if d.Flag != "" {
			flagged = append(flagged, fmt.Sprintf("%s %s/%s/c%d %+.1f%% over its runs (p %s)", esc(d.Arm), esc(d.Scenario), phaseCell(d.Phase, 0, d.Sweep, ""), d.Concurrency, 100*d.Change, pval(&d.PValue)))
		}
	}
	if len(flagged) == 0 {
		return fmt.Sprintf("- Drift: no material time trend in per-run median TTFT (%d arms tested).\n", len(s.Drift))
	}
	return fmt.Sprintf("- **%s**: per-run median TTFT trends over time in %d of %d arms: %s.\n", analysis.FlagDrift, len(flagged), len(s.Drift), strings.Join(flagged, "; "))
}

// runsSection lists the runs, the settings that differ between them and
// the bundles skipped.
func runsSection(b *bytes.Buffer, s *analysis.Summary) {
	b.WriteString("## Runs\n\n")
	b.WriteString("| run | arm | kv mode | scenario | requests | valid | reasons |\n|---|---|---|---|---:|---|---|\n")
	for _, r := range s.Runs {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %d | %s | %s |\n", esc(r.RunID), esc(r.Arm), esc(r.KVMode),
			esc(r.Scenario), r.Requests, yesNo(r.Valid), esc(strings.Join(r.Reasons, "; ")))
	}
	if len(s.ConfigDiffs) > 0 {
		b.WriteString("\nSettings that differ between runs (**between arms** can confound the comparison; within an arm is usually a sweep axis):\n\n")
		b.WriteString("| setting | values by arm | between arms |\n|---|---|---|\n")
		for _, d := range s.ConfigDiffs {
			var parts []string
			for _, av := range d.Values {
				parts = append(parts, av.Arm+": "+strings.Join(av.Values, ", "))
			}
			between := "no"
			if d.BetweenArms {
				between = "**yes**"
			}
			fmt.Fprintf(b, "| %s | %s | %s |\n", esc(d.Key), esc(strings.Join(parts, "; ")), between)
		}
	}
	if len(s.Skipped) > 0 {
		b.WriteString("\nSkipped:\n\n| path | reason |\n|---|---|\n")
		for _, k := range s.Skipped {
			fmt.Fprintf(b, "| %s | %s |\n", esc(k.Path), esc(k.Reason))
		}
	}
	b.WriteString("\n")
}

// metricTitles names the per-request metrics, in report order.
var metricTitles = []struct{ id, title string }{
	{results.MetricTTFT, "Time to first token"},
	{results.MetricLatency, "Request latency"},
	{results.MetricITL, "Inter-token latency"},
}

// metricSections writes one table per per-request metric: every group's
// quantiles with their intervals and flags.
func metricSections(b *bytes.Buffer, s *analysis.Summary) {
	for _, mt := range metricTitles {
		var rows []string
		word := ""
		for _, g := range s.Groups {
			for _, m := range g.Metrics {
				if m.Name != mt.id {
					continue
				}
				u := metricUnit(m.Unit)
				word = u.word
				cells := []string{esc(g.Scenario), phaseCell(g.Phase, g.Pass, g.Sweep, g.Split), esc(g.Arm), strconv.Itoa(g.Concurrency),
					strconv.Itoa(g.NRuns), strconv.Itoa(g.NRequests), strconv.Itoa(g.NErrors), strconv.Itoa(m.N)}
				for _, q := range m.Quantiles {
					cells = append(cells, interval(u.of(q.Value), u.ofPtr(q.Lo), u.ofPtr(q.Hi), num))
				}
				cells = append(cells, quantileNotes(m.Quantiles))
				rows = append(rows, "| "+strings.Join(cells, " | ")+" |")
			}
		}
		if len(rows) == 0 {
			continue
		}
		fmt.Fprintf(b, "## %s (%s)\n\n", mt.title, word)
		b.WriteString("| scenario | phase | arm | conc | runs | requests | errors | n |")
		sep := "|---|---|---|---:|---:|---:|---:|---:|"
		for _, p := range s.Method.Quantiles {
			fmt.Fprintf(b, " p%s [%s] |", pct(p), ciLabel(s))
			sep += "---|"
		}
		b.WriteString(" notes |\n" + sep + "---|\n")
		b.WriteString(strings.Join(rows, "\n") + "\n\n")
	}
}

// throughputSection lists run-level throughput per group.
func throughputSection(b *bytes.Buffer, s *analysis.Summary) {
	var rows []string
	for _, g := range s.Groups {
		for _, m := range g.RunMetrics {
			u := metricUnit(m.Unit)
			per := make([]string, len(m.PerRun))
			for i, v := range m.PerRun {
				per[i] = num(u.of(v))
			}
			rows = append(rows, fmt.Sprintf("| %s | %s | %s | %d | %s | %d | %s | %s | %s |", esc(g.Scenario), phaseCell(g.Phase, g.Pass, g.Sweep, g.Split), esc(g.Arm),
				g.Concurrency, esc(metricName(m.Name, m.Unit)), g.NRuns, interval(u.of(m.Mean), u.ofPtr(m.Lo), u.ofPtr(m.Hi), num), strings.Join(per, ", "), shortFlags(m.Flags)))
		}
	}
	if len(rows) == 0 {
		return
	}
	b.WriteString("## Throughput\n\n")
	b.WriteString("Per run: successful requests (or output tokens) over the span from the phase's first request start to its last response; mean over runs with a t interval.\n\n")
	fmt.Fprintf(b, "| scenario | phase | arm | conc | metric | runs | mean [%s] | per run | notes |\n|---|---|---|---:|---|---:|---|---|---|\n", ciLabel(s))
	b.WriteString(strings.Join(rows, "\n") + "\n\n")
}

// comparisonsSection lists every comparison (all phases and metrics).
func comparisonsSection(b *bytes.Buffer, s *analysis.Summary) {
	if len(s.Comparisons) == 0 {
		return
	}
	b.WriteString("## All comparisons\n\n")
	b.WriteString("Every phase, metric and statistic; throughput is compared by its per-run mean (higher is better). " +
		"p (Holm): the p-value adjusted for testing several quantiles of one row group (Holm's step-down method). " +
		"method: how the interval was computed: order_stat or iid (one run per arm, requests resampled), two_stage (runs resampled, then requests within them), " +
		"union (the paired bootstrap interval widened to cover run-level Welch intervals, from two runs per arm), run_t (a t interval over per-run values), none (too few data). " +
		"Notes use the short names of the legend above; a flag raised by one arm only is prefixed with that arm.\n\n")
	b.WriteString("| scenario | phase | conc | metric | statistic | " + esc(s.Method.Baseline) + " | " + esc(s.Method.Candidate) +
		" | change [CI] | delta [CI] | p | p (Holm) | verdict | grade | method | notes |\n")
	b.WriteString("|---|---|---:|---|---|---:|---:|---|---|---:|---:|---|---|---|---|\n")
	for _, c := range s.Comparisons {
		u := metricUnit(c.Unit)
		fmt.Fprintf(b, "| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			esc(c.Scenario), phaseCell(c.Phase, c.Pass, c.Sweep, c.Split), c.Concurrency, esc(metricName(c.Metric, c.Unit)), esc(c.Statistic),
			num(u.of(c.Baseline)), num(u.of(c.Candidate)), changeInterval(c), interval(u.of(c.Delta), u.ofPtr(c.DeltaLo), u.ofPtr(c.DeltaHi), signedNum),
			pval(c.PValue), pval(c.PHolm), esc(c.Verdict), esc(c.Grade), esc(c.Method), esc(comparisonNotes(c.Flags, s.Method)))
	}
	b.WriteString("\n")
}

// rehydrateSection lists each run's tier verdict with its evidence.
func rehydrateSection(b *bytes.Buffer, s *analysis.Summary) {
	if len(s.Rehydrate) == 0 {
		return
	}
	b.WriteString("## Rehydrate evidence\n\n")
	fmt.Fprintf(b, "Per run, from KVBM counters (blocks counted when a transfer is enqueued), block-device and server-process reads, and cache-directory churn. "+
		"`%s`: blocks were onboarded from disk in the replay phase; `%s`: matched tokens did not move, so no cross-request reuse path was active; "+
		"`%s`: reuse without disk onboarding; `%s`: no KVBM counters were captured. Thresholds are heuristics.\n\n",
		results.RehydrateObserved, results.RehydrateGated, results.RehydrateNotObserved, results.RehydrateNoEvidence)
	b.WriteString("| run | arm | verdict | notes | evidence | warnings |\n|---|---|---|---|---|---|\n")
	for _, r := range s.Rehydrate {
		evidence, warnings := rehydrateText(r)
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", esc(r.RunID), esc(r.Arm), esc(r.Verdict),
			esc(shortFlags(r.Flags)), esc(readableEvidence.Replace(strings.Join(evidence, "; "))), esc(strings.Join(warnings, "; ")))
	}
	b.WriteString("\n")
}

// integritySection lists each run's repeated answers compared with their
// prompt's first answer.
func integritySection(b *bytes.Buffer, s *analysis.Summary) {
	in := s.Integrity
	if len(in.Runs) == 0 {
		return
	}
	b.WriteString("## KV integrity\n\n")
	fmt.Fprintf(b, "Every request that repeats a prompt asked earlier in the same run (replays, reuse passes) is compared with that prompt's first answer; "+
		"with `--temperature 0` a changed answer points at wrong KV. A run is flagged `%s` above %s%% changed.\n\n",
		analysis.FlagAnswersChanged, pct(in.Threshold))
	b.WriteString("| run | arm | compared | changed | share | flag |\n|---|---|---:|---:|---:|---|\n")
	for _, r := range in.Runs {
		flag := ""
		if r.Flagged {
			flag = analysis.FlagAnswersChanged
		}
		fmt.Fprintf(b, "| %s | %s | %d | %d | %s%% | %s |\n", esc(r.RunID), esc(r.Arm), r.Compared, r.Changed,
			fixed(100*float64(r.Changed)/float64(r.Compared), 1), flag)
	}
	b.WriteString("\n")
}

// readableEvidence spells out KVBM's short name of the first tier move in
// the report; summary.json keeps the words it has always had.
var readableEvidence = strings.NewReplacer("offload d2h", "offload device→host")

// attributionSection shows the per-request tier estimate.
func attributionSection(b *bytes.Buffer, s *analysis.Summary) {
	if len(s.Attribution) == 0 {
		return
	}
	b.WriteString("## Per-request tier attribution (estimate)\n\n")
	b.WriteString("Each successful replay-type request is labelled by the KVBM onboard counters that moved between the last scrape before it was sent and the first scrape after its first token (KVBM counts onboarding when it is queued, before prefill); " +
		"`ambiguous` when another request was sent in that window (lower `--metrics-interval` or concurrency to resolve more), `no_onboard` when nothing was onboarded (a GPU prefix hit or a recompute). " +
		"Counters move when transfers are enqueued, so this is an estimate.\n\n")
	fmt.Fprintf(b, "| arm | phase | tier | requests | share | TTFT p50 (%s) |\n|---|---|---|---:|---:|---:|\n", timing.word)
	for _, t := range s.Attribution {
		fmt.Fprintf(b, "| %s | %s | %s | %d | %s%% | %s |\n", esc(t.Arm), esc(t.Phase), esc(t.Tier), t.Requests,
			fixed(100*t.Share, 1), num(timing.of(t.TTFTp50)))
	}
	b.WriteString("\n")
}

// ioSection lists per-phase counter deltas.
func ioSection(b *bytes.Buffer, s *analysis.Summary) {
	if len(s.PhaseIO) == 0 {
		return
	}
	b.WriteString("## I/O and KVBM counters by phase\n\n")
	fmt.Fprintf(b, "Counter increase from the last sample before the phase (its start sample for the first phase) to its end sample, counter resets handled. Blocks for KVBM counters; %s for bytes.\n\n", size.word)
	b.WriteString("| run | arm | phase | " + elapsed.word + " | offload device→host | offload host→disk | onboard host→device | onboard disk→device | matched tokens | ")
	fmt.Fprintf(b, "dev read %[1]s | dev write %[1]s | proc read %[1]s | proc write %[1]s | files +/- |\n", size.word)
	b.WriteString("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	seen := map[[2]string]int{}
	for _, p := range s.PhaseIO {
		seen[[2]string{p.RunID, p.Phase}]++
	}
	for _, p := range s.PhaseIO {
		pass := 0
		if seen[[2]string{p.RunID, p.Phase}] > 1 {
			pass = p.Repeat + 1 // the passes of reuse_verify, named as in the metric tables
		}
		k := p.KVBM
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			esc(p.RunID), esc(p.Arm), phaseCell(p.Phase, pass, "", ""), fixed(elapsed.ofInt(p.DurationNs), 1),
			roles(k, results.KVBMOffloadD2H), roles(k, results.KVBMOffloadH2D, results.KVBMOffloadD2D), roles(k, results.KVBMOnboardH2D),
			roles(k, results.KVBMOnboardD2D, results.KVBMOnboardD2H), roles(k, results.KVBMMatched),
			bytesCells(p.HaveDevice, p.DeviceReadBytes, p.DeviceWriteBytes), bytesCells(p.HaveProcess, p.ProcessReadBytes, p.ProcessWriteBytes), files(p.Deltas))
	}
	b.WriteString("\n")
}

// roles formats the sum of the KVBM roles present, or "-" when none was
// scraped.
func roles(m map[string]float64, names ...string) string {
	if !slices.ContainsFunc(names, func(r string) bool { _, ok := m[r]; return ok }) {
		return "-"
	}
	return count(m, names...)
}

// bytesCells formats a read and a write byte count in MiB, or "-" when
// not sampled.
func bytesCells(have bool, read, write float64) string {
	if !have {
		return "- | -"
	}
	return fixed(size.of(read), 1) + " | " + fixed(size.of(write), 1)
}

func files(d analysis.Deltas) string {
	if !d.HaveCacheDir {
		return "-"
	}
	return fmt.Sprintf("+%d/-%d", d.FilesCreated, d.FilesRemoved)
}

// plotsSection links the plots.
func plotsSection(b *bytes.Buffer, plots []PlotRef) {
	if len(plots) == 0 {
		return
	}
	b.WriteString("## Plots\n\n")
	for _, p := range plots {
		fmt.Fprintf(b, "### %s\n\n![%s](%s)\n\n[SVG](%s)\n\n", esc(p.Title), esc(p.Title), p.PNG, p.SVG)
	}
}

// methodSection gives the parameters of this analysis; METHOD.md in the
// repository explains every statistic, flag, verdict and grade.
func methodSection(b *bytes.Buffer, s *analysis.Summary) {
	m := s.Method
	b.WriteString("## Method\n\n")
	fmt.Fprintf(b, "%s in the kvbench repository explains every statistic, flag, verdict, grade and rehydrate signal in plain words. This analysis used:\n\n", MethodDoc)
	fmt.Fprintf(b, "- Percentiles: %s, from per-request records (warmup excluded); failed requests count as censored observations above the timeout.\n", esc(m.Quantile))
	fmt.Fprintf(b, "- Intervals: %s%% confidence. One run: %d bootstrap replicates, labelled conditional on that run. Several runs: a run-level interval (t with runs − 1 degrees of freedom, centred on the pooled value); comparisons pair %d two-stage replicates (runs, then requests) per arm and widen to run-level Welch intervals; seed %d.\n",
		pct(m.Confidence), m.Resamples, m.TwoStageResamples, m.Seed)
	if m.Margin > 0 {
		fmt.Fprintf(b, "- Equivalence margin: ±%s%% on the ratio.\n", pct(m.Margin))
	}
	fmt.Fprintf(b, "- A row is %s when its verdict is better, worse or equivalent and no minimum-sample or tier-evidence rule fails (at least three runs per arm); otherwise %s, with the reasons listed.\n",
		results.GradeDecision, results.GradeProvisional)
	b.WriteString("- TTFT is the first non-empty token of a stream (first byte without streaming); ITL is each request's mean gap between content chunks.\n")
}

// notesSection explains, once, the short name of every flag that occurs
// in this report.
func notesSection(b *bytes.Buffer, s *analysis.Summary) {
	flags := flagsIn(s)
	if len(flags) == 0 {
		return
	}
	b.WriteString("## Notes in the tables\n\n")
	b.WriteString("Flags raised by the minimum-sample rules and the tier evidence, by the short name the tables use (t = requests beyond the quantile, n·(1−p)):\n\n")
	for _, f := range flags {
		d := analysis.Describe(f)
		if d == "" {
			d = "see " + MethodDoc
		}
		fmt.Fprintf(b, "- %s (%s): %s.\n", short(f), f, esc(strings.TrimSuffix(d, ".")))
	}
	b.WriteString("\n")
}

// ciLabel labels an interval column with the summary's confidence: "95% CI".
func ciLabel(s *analysis.Summary) string { return pct(s.Method.Confidence) + "% CI" }

// interval formats a value with its interval, when there is one.
func interval(v float64, lo, hi *float64, f func(float64) string) string {
	s := f(v)
	if lo != nil && hi != nil {
		s += " [" + f(*lo) + ", " + f(*hi) + "]"
	}
	return s
}

func pval(p *float64) string {
	if p == nil {
		return "-"
	}
	if *p < 0.0001 {
		return "<0.0001"
	}
	return fixed(*p, 4)
}

// fixed formats v with a fixed number of decimals.
func fixed(v float64, decimals int) string { return strconv.FormatFloat(v, 'f', decimals, 64) }

// num formats a value (already in its display unit) with two decimals.
func num(v float64) string { return fixed(v, 2) }

func ratioNum(v float64) string { return fixed(v, 3) }

func signedNum(v float64) string {
	if v >= 0 {
		return "+" + num(v)
	}
	return num(v)
}

// pct formats 0.99 as "99" and 0.999 as "99.9".
func pct(p float64) string { return strconv.FormatFloat(p*100, 'f', -1, 64) }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// rehydrateCount counts an arm's runs with KVBM counters, those with a
// rehydrate_observed verdict among them, and names the runs without
// counters (none configured, none scraped, or unreadable telemetry).
func rehydrateCount(s *analysis.Summary, arm string) (observed, counted int, missing []string) {
	for _, r := range s.Rehydrate {
		if r.Arm != arm {
			continue
		}
		if !r.HaveKVBM || r.TelemetryError != "" {
			missing = append(missing, r.RunID)
			continue
		}
		counted++
		if r.Verdict == results.RehydrateObserved {
			observed++
		}
	}
	return observed, counted, missing
}
