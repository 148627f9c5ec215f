package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Write renders summary into dir: report.md, summary.json and plots/. It
// returns the path of report.md.
func Write(dir string, s *Summary) (string, error) {
	if err := os.MkdirAll(filepath.Join(dir, "plots"), 0o755); err != nil {
		return "", fmt.Errorf("output directory %s: %w", dir, err)
	}
	plots, err := WritePlots(filepath.Join(dir, "plots"), s)
	if err != nil {
		return "", err
	}
	md := Markdown(s, plots)
	mdPath := filepath.Join(dir, "report.md")
	if err := os.WriteFile(mdPath, md, 0o644); err != nil {
		return "", fmt.Errorf("write %s: %w", mdPath, err)
	}
	js, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode summary: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "summary.json"), append(js, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("write summary.json: %w", err)
	}
	return mdPath, nil
}

// PlotRef is a plot written next to the report.
type PlotRef struct {
	Title string
	PNG   string // path relative to the report
	SVG   string
}

// primaryPhases are the phases a verdict is about: the measured phases of
// each scenario (populate and thrash only set up the cache state).
var primaryPhases = map[string]bool{"measure": true, "replay": true, "reuse": true, "burst": true}

// verdict writes the first section: time to first token of the candidate
// against the baseline in each measured phase, with intervals and verdicts.
func verdict(b *bytes.Buffer, s *Summary) {
	b.WriteString("## Verdict\n\n")
	var rows []Comparison
	for _, c := range s.Comparisons {
		if c.Metric == "ttft_ms" && primaryPhases[c.Phase] {
			rows = append(rows, c)
		}
	}
	if len(rows) == 0 {
		fmt.Fprintf(b, "No comparison: the data has no measured phase with both %s (baseline) and %s (candidate) runs.\n\n",
			esc(s.Method.Baseline), esc(s.Method.Candidate))
		return
	}
	for _, c := range rows {
		if c.P != 0.5 {
			continue
		}
		ratio := "-"
		if c.RatioLo != nil && c.RatioHi != nil {
			ratio = fmt.Sprintf("%s× [%s, %s]", strconv.FormatFloat(c.Ratio, 'f', 2, 64),
				strconv.FormatFloat(*c.RatioLo, 'f', 2, 64), strconv.FormatFloat(*c.RatioHi, 'f', 2, 64))
		}
		fmt.Fprintf(b, "- **%s / %s / c%d**: median TTFT %s %s ms vs %s %s ms, ratio %s: **%s** (%s).\n",
			esc(c.Scenario), phaseCell(c.Phase, c.Sweep), c.Concurrency, esc(s.Method.Candidate), num(c.Candidate),
			esc(s.Method.Baseline), num(c.Baseline), ratio, esc(c.Verdict), esc(c.Grade))
	}
	if obs, total := rehydrateCount(s, s.Method.Candidate); total > 0 {
		fmt.Fprintf(b, "- Tier evidence: disk rehydrate observed in %d of %d %s runs.\n", obs, total, esc(s.Method.Candidate))
	}
	b.WriteString("\n")
	fmt.Fprintf(b, "Time to first token, %s (candidate) against %s (baseline), in ms; ratio = %s / %s, lower is better. "+
		"`better`/`worse`: the ratio's %s%% interval excludes 1; `equivalent`: it lies within 1 ± %s%%.\n\n",
		esc(s.Method.Candidate), esc(s.Method.Baseline), esc(s.Method.Candidate), esc(s.Method.Baseline), pct(s.Method.Confidence), pct(s.Method.Margin))
	b.WriteString("| scenario | phase | conc | metric | " + esc(s.Method.Baseline) + " | " + esc(s.Method.Candidate) +
		" | delta [CI] | ratio [CI] | p | verdict | grade |\n")
	b.WriteString("|---|---|---:|---|---:|---:|---|---|---:|---|---|\n")
	var why []string
	for _, c := range rows {
		fmt.Fprintf(b, "| %s | %s | %d | TTFT p%s | %s | %s | %s | %s | %s | **%s** | %s |\n",
			esc(c.Scenario), phaseCell(c.Phase, c.Sweep), c.Concurrency, pct(c.P),
			num(c.Baseline), num(c.Candidate), interval(c.Delta, c.DeltaLo, c.DeltaHi, true),
			ratio(c.Ratio, c.RatioLo, c.RatioHi), pval(c.PValue), esc(c.Verdict), esc(c.Grade))
		if c.Grade != "decision-grade" && len(c.Reasons) > 0 {
			why = append(why, fmt.Sprintf("- %s / %s / c%d, TTFT p%s: %s", esc(c.Scenario), phaseCell(c.Phase, c.Sweep), c.Concurrency, pct(c.P), esc(strings.Join(c.Reasons, "; "))))
		}
	}
	if len(why) > 0 {
		b.WriteString("\nWhy rows are provisional:\n\n" + strings.Join(why, "\n") + "\n")
	}
	b.WriteString("\n")
}

// comparisonsTable lists every comparison (all phases and metrics).
func comparisonsTable(b *bytes.Buffer, s *Summary) {
	if len(s.Comparisons) == 0 {
		return
	}
	b.WriteString("## All comparisons\n\n")
	b.WriteString("| scenario | phase | conc | metric | statistic | " + esc(s.Method.Baseline) + " | " + esc(s.Method.Candidate) +
		" | delta [CI] | ratio [CI] | p | p (Holm) | verdict | grade | method | flags |\n")
	b.WriteString("|---|---|---:|---|---|---:|---:|---|---|---:|---:|---|---|---|---|\n")
	for _, c := range s.Comparisons {
		fmt.Fprintf(b, "| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			esc(c.Scenario), phaseCell(c.Phase, c.Sweep), c.Concurrency, esc(c.Metric), esc(c.Statistic),
			num(c.Baseline), num(c.Candidate), interval(c.Delta, c.DeltaLo, c.DeltaHi, true),
			ratio(c.Ratio, c.RatioLo, c.RatioHi), pval(c.PValue), pval(c.PHolm), esc(c.Verdict), esc(c.Grade), esc(c.Method),
			esc(strings.Join(c.Flags, ", ")))
	}
	b.WriteString("\n")
}

func pval(p *float64) string {
	if p == nil {
		return "-"
	}
	if *p < 0.0001 {
		return "<0.0001"
	}
	return strconv.FormatFloat(*p, 'f', 4, 64)
}

// Markdown renders the report. It is byte-stable for the same summary.
func Markdown(s *Summary, plots []PlotRef) []byte {
	var b bytes.Buffer
	b.WriteString("# kvbench report\n\n")
	fmt.Fprintf(&b, "Generated by %s from %d run(s); %d skipped.\n\n", esc(s.Tool), len(s.Runs), len(s.Skipped))

	verdict(&b, s)
	b.WriteString("## Runs\n\n")
	b.WriteString("| run | arm | kv mode | scenario | requests | valid | reasons |\n|---|---|---|---|---:|---|---|\n")
	for _, r := range s.Runs {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %s | %s |\n", esc(r.RunID), esc(r.Arm), esc(r.KVMode),
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
			flag := "no"
			if d.BetweenArms {
				flag = "**yes**"
			}
			fmt.Fprintf(&b, "| %s | %s | %s |\n", esc(d.Key), esc(strings.Join(parts, "; ")), flag)
		}
	}
	if len(s.Skipped) > 0 {
		b.WriteString("\nSkipped:\n\n| path | reason |\n|---|---|\n")
		for _, k := range s.Skipped {
			fmt.Fprintf(&b, "| %s | %s |\n", esc(k.Path), esc(k.Reason))
		}
	}
	b.WriteString("\n")

	for _, metric := range []struct{ name, title string }{
		{"ttft_ms", "Time to first token (ms)"},
		{"latency_ms", "Request latency (ms)"},
		{"itl_ms", "Inter-token latency (ms)"},
	} {
		var rows []string
		for _, g := range s.Groups {
			for _, m := range g.Metrics {
				if m.Name != metric.name {
					continue
				}
				cells := []string{esc(g.Scenario), phaseCell(g.Phase, g.Sweep), esc(g.Arm), strconv.Itoa(g.Concurrency),
					strconv.Itoa(g.NRuns), strconv.Itoa(g.NRequests), strconv.Itoa(g.NErrors), strconv.Itoa(m.N)}
				for _, q := range m.Quantiles {
					cells = append(cells, quantileCell(q))
				}
				rows = append(rows, "| "+strings.Join(cells, " | ")+" |")
			}
		}
		if len(rows) == 0 {
			continue
		}
		fmt.Fprintf(&b, "## %s\n\n", metric.title)
		b.WriteString("| scenario | phase | arm | conc | runs | requests | errors | n |")
		sep := "|---|---|---|---:|---:|---:|---:|---:|"
		for _, p := range s.Method.Quantiles {
			fmt.Fprintf(&b, " p%s [95%% CI] |", pct(p))
			sep += "---|"
		}
		b.WriteString("\n" + sep + "\n")
		b.WriteString(strings.Join(rows, "\n") + "\n\n")
	}

	throughputSection(&b, s)
	comparisonsTable(&b, s)
	rehydrateSection(&b, s)
	attributionSection(&b, s)
	ioSection(&b, s)

	if len(plots) > 0 {
		b.WriteString("## Plots\n\n")
		for _, p := range plots {
			fmt.Fprintf(&b, "### %s\n\n![%s](%s)\n\n[SVG](%s)\n\n", esc(p.Title), esc(p.Title), p.PNG, p.SVG)
		}
	}

	b.WriteString("## Method\n\n")
	fmt.Fprintf(&b, "- Percentiles: %s, computed from per-request records (warmup excluded).\n", esc(s.Method.Quantile))
	fmt.Fprintf(&b, "- Intervals: %s%% confidence; percentile bootstrap with the exact order-statistic sampler (%d replicates) for one run, two-stage bootstrap (runs, then requests; %d replicates) for several, widened to the union with a run-level t interval from three runs on; seed %d.\n",
		pct(s.Method.Confidence), s.Method.Resamples, s.Method.TwoStageResamples, s.Method.Seed)
	if s.Method.Margin > 0 {
		fmt.Fprintf(&b, "- Practical equivalence margin: ±%s%%.\n", pct(s.Method.Margin))
	}
	b.WriteString("- Comparisons: ratio and difference of the pooled quantiles with paired bootstrap replicates of both arms; from three runs per arm, widened to the union with a Welch interval on per-run log quantiles. p is the larger of the bootstrap and Welch p-values; p (Holm) adjusts across the quantiles of a row group. Failed requests are censored observations above the timeout.\n")
	b.WriteString("- Latency metrics: TTFT is the first non-empty token of a stream (first byte without streaming); ITL is each request's mean gap between content chunks.\n\n")
	b.WriteString("Minimum-sample rules and flags (t = requests beyond the quantile, n·(1−p); G = runs):\n\n")
	b.WriteString("| flag | condition | effect |\n|---|---|---|\n")
	for _, r := range [][3]string{
		{"INSUFFICIENT\\_DATA", "t < 10 (p50: n < 20, p90: n < 100, p95: n < 200, p99: n < 1000)", "point estimate only; no interval, verdict `insufficient_data`"},
		{"LOW\\_TAIL\\_COUNT", "10 ≤ t < 50", "interval shown; may under-cover by 2–3 points; not decision-grade"},
		{"SINGLE\\_RUN", "G = 1", "interval reflects within-run sampling only"},
		{"FEW\\_RUNS", "2 ≤ G < 5", "decision-grade needs G ≥ 3 per arm; 5 recommended"},
		{"RUN\\_HETEROGENEITY", "Cochran's Q p < 0.10 across runs", "runs disagree; the run-level interval covers it from G = 3"},
		{"RUN\\_LEVEL\\_UNAVAILABLE", "some run has fewer than 10 requests beyond the quantile", "two-stage interval only"},
		{"WITHIN\\_RUN\\_CORRELATION", "lag-1 autocorrelation of exceedances > 0.1", "i.i.d. resampling within runs is optimistic"},
		{"CENSORED\\_TAIL", "failures ≥ 0.1·t", "the quantile is biased low; not decision-grade"},
		{"DISK\\_TIER\\_INACTIVE, NO\\_REHYDRATE, PAGE\\_CACHE\\_MASKING, CONTROL\\_CONTAMINATED, NO\\_TIER\\_EVIDENCE", "tier counter checks fail (see Rehydrate evidence)", "not decision-grade: the difference is not shown to come from the disk tier"},
	} {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", r[0], r[1], r[2])
	}
	return b.Bytes()
}

func quantileCell(q Quantile) string {
	s := num(q.Value)
	if q.Lo != nil && q.Hi != nil {
		s += " [" + num(*q.Lo) + ", " + num(*q.Hi) + "]"
	}
	if len(q.Flags) > 0 {
		s += " " + esc(strings.Join(q.Flags, ","))
	}
	return s
}

func interval(v float64, lo, hi *float64, signed bool) string {
	f := num
	if signed {
		f = signedNum
	}
	s := f(v)
	if lo != nil && hi != nil {
		s += " [" + f(*lo) + ", " + f(*hi) + "]"
	}
	return s
}

func ratio(v float64, lo, hi *float64) string {
	s := strconv.FormatFloat(v, 'f', 3, 64)
	if lo != nil && hi != nil {
		s += " [" + strconv.FormatFloat(*lo, 'f', 3, 64) + ", " + strconv.FormatFloat(*hi, 'f', 3, 64) + "]"
	}
	return s
}

// num formats a value in milliseconds with a fixed format.
func num(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

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

var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "|", `\|`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`,
	"<", "&lt;", ">", "&gt;", "#", `\#`, "\r", " ", "\n", " ",
)

// esc makes a string from the data safe inside a markdown table cell or
// heading: it cannot open a link, an HTML tag, code, emphasis or a new row.
func esc(s string) string { return mdEscaper.Replace(s) }

// rehydrateSection lists each run's tier verdict with its evidence.
func rehydrateSection(b *bytes.Buffer, s *Summary) {
	if len(s.Rehydrate) == 0 {
		return
	}
	b.WriteString("## Rehydrate evidence\n\n")
	b.WriteString("Per run, from KVBM counters (blocks counted when a transfer is enqueued), block-device and server-process reads, and cache-directory churn. " +
		"`rehydrate_observed`: blocks were onboarded from disk in the replay phase; `gated`: matched tokens did not move, so no cross-request reuse path was active; " +
		"`not_observed`: reuse without disk onboarding; `no_evidence`: no KVBM counters were captured. Thresholds are heuristics (shared/reference/stats.md §6).\n\n")
	b.WriteString("| run | arm | verdict | flags | evidence | warnings |\n|---|---|---|---|---|---|\n")
	for _, r := range s.Rehydrate {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", esc(r.RunID), esc(r.Arm), esc(r.Verdict),
			esc(strings.Join(r.Flags, ", ")), esc(strings.Join(r.Evidence, "; ")), esc(strings.Join(r.Warnings, "; ")))
	}
	b.WriteString("\n")
}

// ioSection lists per-phase counter deltas.
func ioSection(b *bytes.Buffer, s *Summary) {
	if len(s.PhaseIO) == 0 {
		return
	}
	b.WriteString("## I/O and KVBM counters by phase\n\n")
	b.WriteString("Counter increase from the last sample before the phase (its start sample for the first phase) to its end sample, counter resets handled. Blocks for KVBM counters; MiB for bytes.\n\n")
	b.WriteString("| run | arm | phase | s | offload d2h | offload host→disk | onboard host→dev | onboard disk→dev | matched tokens | dev read MiB | dev write MiB | proc read MiB | proc write MiB | files +/- |\n")
	b.WriteString("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	seen := map[[2]string]int{}
	for _, p := range s.PhaseIO {
		seen[[2]string{p.RunID, p.Phase}]++
	}
	repeated := map[[2]string]bool{}
	for k, n := range seen {
		repeated[k] = n > 1
	}
	for _, p := range s.PhaseIO {
		k := func(role string) string {
			v, ok := p.KVBM[role]
			if !ok {
				return "-"
			}
			return strconv.FormatFloat(v, 'f', 0, 64)
		}
		files := "-"
		if p.FilesCreated != nil && p.FilesRemoved != nil {
			files = fmt.Sprintf("+%d/-%d", *p.FilesCreated, *p.FilesRemoved)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			esc(p.RunID), esc(p.Arm), esc(phaseName(p, repeated)), strconv.FormatFloat(p.Seconds, 'f', 1, 64),
			k("offload_d2h"), sumRoles(p.KVBM, "offload_h2d", "offload_d2d"), k("onboard_h2d"), sumRoles(p.KVBM, "onboard_d2d", "onboard_d2h"), k("matched_tokens"),
			mibp(p.DeviceReadBytes), mibp(p.DeviceWriteBytes), mibp(p.ProcessReadBytes), mibp(p.ProcessWriteBytes), files)
	}
	b.WriteString("\n")
}

func sumRoles(m map[string]float64, roles ...string) string {
	total, any := 0.0, false
	for _, r := range roles {
		if v, ok := m[r]; ok {
			total += v
			any = true
		}
	}
	if !any {
		return "-"
	}
	return strconv.FormatFloat(total, 'f', 0, 64)
}

func mibp(v *float64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(*v/(1<<20), 'f', 1, 64)
}

// phaseName shows a phase that occurs more than once in its run (the
// repeats of reuse_verify) with its repeat index: "reuse #2".
func phaseName(p PhaseIO, repeated map[[2]string]bool) string {
	if repeated[[2]string{p.RunID, p.Phase}] {
		return fmt.Sprintf("%s #%d", p.Phase, p.Repeat+1)
	}
	return p.Phase
}

// throughputSection lists run-level throughput per group.
func throughputSection(b *bytes.Buffer, s *Summary) {
	var rows []string
	for _, g := range s.Groups {
		for _, m := range g.RunMetrics {
			iv := num(m.Mean)
			if m.Lo != nil && m.Hi != nil {
				iv += " [" + num(*m.Lo) + ", " + num(*m.Hi) + "]"
			}
			per := make([]string, len(m.PerRun))
			for i, v := range m.PerRun {
				per[i] = num(v)
			}
			rows = append(rows, fmt.Sprintf("| %s | %s | %s | %d | %s | %d | %s | %s |", esc(g.Scenario), phaseCell(g.Phase, g.Sweep), esc(g.Arm),
				g.Concurrency, esc(m.Name), g.NRuns, iv, strings.Join(per, ", ")))
		}
	}
	if len(rows) == 0 {
		return
	}
	b.WriteString("## Throughput\n\n")
	b.WriteString("Per run: successful requests (or output tokens) over the span from the phase's first request start to its last response; mean over runs with a t interval.\n\n")
	b.WriteString("| scenario | phase | arm | conc | metric | runs | mean [95% CI] | per run |\n|---|---|---|---:|---|---:|---|---|\n")
	b.WriteString(strings.Join(rows, "\n") + "\n\n")
}

// attributionSection shows the per-request tier estimate.
func attributionSection(b *bytes.Buffer, s *Summary) {
	if len(s.Attribution) == 0 {
		return
	}
	b.WriteString("## Per-request tier attribution (estimate)\n\n")
	b.WriteString("Each successful replay-type request is labelled by the KVBM onboard counters that moved between the last scrape before it was sent and the first scrape after its first token (KVBM counts onboarding when it is queued, before prefill); " +
		"`ambiguous` when another request was sent in that window (lower `--metrics-interval` or concurrency to resolve more), `no_onboard` when nothing was onboarded (a GPU prefix hit or a recompute). " +
		"Counters move when transfers are enqueued, so this is an estimate.\n\n")
	b.WriteString("| arm | phase | tier | requests | share | TTFT p50 (ms) |\n|---|---|---|---:|---:|---:|\n")
	for _, t := range s.Attribution {
		fmt.Fprintf(b, "| %s | %s | %s | %d | %s%% | %s |\n", esc(t.Arm), esc(t.Phase), esc(t.Tier), t.Requests,
			strconv.FormatFloat(100*t.Share, 'f', 1, 64), num(t.TTFTp50))
	}
	b.WriteString("\n")
}

// phaseCell shows a phase with its campaign sweep point, if any.
func phaseCell(phase, sweep string) string {
	if sweep == "" {
		return esc(phase)
	}
	return esc(phase + " [" + sweep + "]")
}

// rehydrateCount counts an arm's runs with a rehydrate_observed verdict.
func rehydrateCount(s *Summary, arm string) (observed, total int) {
	for _, r := range s.Rehydrate {
		if r.Arm != arm {
			continue
		}
		total++
		if r.Verdict == "rehydrate_observed" {
			observed++
		}
	}
	return observed, total
}
