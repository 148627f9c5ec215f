package report

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot"

	"kvbench/analysis"
	"kvbench/results"
	"kvbench/stats"
)

var update = flag.Bool("update", false, "rewrite golden files")

func f(v float64) *float64 { return &v }

func fixture() *analysis.Summary {
	const ms = 1e6 // the summary holds nanoseconds
	return &analysis.Summary{
		Tool:   "kvbench analyze test",
		Method: analysis.Method{Quantile: "Hyndman-Fan type 7", Confidence: 0.95, Resamples: 9999, TwoStageResamples: 2000, Seed: 1, Quantiles: []float64{0.5, 0.99}, Baseline: "B1", Candidate: "B2", Margin: 0.05},
		Runs: []analysis.Run{
			{RunID: "r|1", Arm: "B1", KVMode: "cpu_only", Scenario: "standard", Valid: true, Requests: 10},
			{RunID: "r2", Arm: "B2", KVMode: "cpu_disk", Scenario: "standard", Valid: false, Reasons: []string{"error rate 10%"}, Requests: 10},
		},
		Skipped: []analysis.SkippedRun{{Path: "x/y", Reason: "incomplete bundle"}},
		Groups: []analysis.Group{{Scenario: "standard", Phase: "measure", Arm: "B1", Concurrency: 4, NRuns: 1, NRequests: 10, NErrors: 0,
			Metrics: []analysis.Metric{{Name: results.MetricTTFT, Unit: results.UnitNanoseconds, N: 10, Quantiles: []analysis.Quantile{
				{P: 0.5, Value: 12.345 * ms, Lo: f(11 * ms), Hi: f(13.5 * ms)}, {P: 0.99, Value: 40 * ms, Flags: []string{stats.FlagInsufficientData}}}}}}},
		Comparisons: []analysis.Comparison{{Scenario: "standard", Phase: "measure", Concurrency: 4, Metric: results.MetricTTFT, Unit: results.UnitNanoseconds,
			P: 0.5, Statistic: "p50", Baseline: 12.345 * ms, Candidate: 10 * ms, Delta: -2.345 * ms, DeltaLo: f(-3 * ms), DeltaHi: f(-1 * ms),
			Ratio: 0.81, RatioLo: f(0.75), RatioHi: f(0.9), Verdict: results.VerdictBetter, Grade: results.GradeProvisional}},
	}
}

func TestMarkdownGolden(t *testing.T) {
	plots := []PlotRef{{Title: "TTFT CDF", PNG: "plots/a.png", SVG: "plots/a.svg"}}
	got := markdown(t, fixture(), plots...)
	golden := filepath.Join("testdata", "report.golden.md")
	if *update {
		os.WriteFile(golden, got, 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("report.md differs from %s (run go test ./report -update to accept):\n%s", golden, got)
	}
	if again := markdown(t, fixture(), plots...); !bytes.Equal(got, again) {
		t.Error("Markdown is not byte-stable")
	}
}

// markdown renders the report into memory.
func markdown(t *testing.T, s *analysis.Summary, plots ...PlotRef) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Markdown(&b, s, plots...); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestEscape(t *testing.T) {
	cases := map[string]string{
		"a|b":                   `a\|b`,
		"<script>":              `\<script>`,
		"35 < 50":               "35 < 50",
		"[x](http://e)":         `[x\](http://e)`,
		"[]":                    "[]",
		"line\nbreak":           "line break",
		"rehydrate_replay":      "rehydrate_replay",
		"&amp;":                 `\&amp;`,
		"#h *bold* _it_ `code`": "\\#h \\*bold\\* \\_it\\_ \\`code\\`",
	}
	for in, want := range cases {
		if got := esc(in); got != want {
			t.Errorf("esc(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestWriteCreatesPlots(t *testing.T) {
	dir := t.TempDir()
	s := fixture()
	s.Distributions = []analysis.Distribution{
		{Scenario: "standard", Phase: "measure", Arm: "B1", Metric: results.MetricTTFT, Sorted: []float64{1e6, 2e6, 3e6, 4e6}},
		{Scenario: "standard", Phase: "measure", Arm: "B2", Metric: results.MetricTTFT, Sorted: []float64{0.5e6, 1e6, 1.5e6}},
	}
	path, err := Write(dir, s)
	if err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(path)
	for _, ext := range []string{".png", ".svg"} {
		p := filepath.Join(dir, "plots", "ttft_cdf_standard_measure"+ext)
		st, err := os.Stat(p)
		if err != nil || st.Size() < 1000 {
			t.Errorf("%s: %v", p, err)
		}
	}
	if !strings.Contains(string(md), "](plots/ttft_cdf_standard_measure.png)") {
		t.Errorf("report does not link the plot")
	}
	js, _ := os.ReadFile(filepath.Join(dir, "summary.json"))
	if !strings.Contains(string(js), `"verdict": "better"`) || !strings.Contains(string(js), `"value": 12.345,`) || strings.Contains(string(js), "Sorted") {
		t.Errorf("summary.json content unexpected")
	}
}

func TestCDFPoints(t *testing.T) {
	pts := cdfPoints([]float64{0, 1e6, 2e6, 3e6}, 10, timing)
	if len(pts) != 3 || pts[0].X != 1 || pts[0].Y != 0.5 || pts[2].Y != 1 {
		t.Errorf("cdfPoints = %v", pts)
	}
	big := make([]float64, 10000)
	for i := range big {
		big[i] = float64(i + 1)
	}
	if pts := cdfPoints(big, 100, unit{div: 1}); len(pts) > 101 || pts[len(pts)-1].Y != 1 {
		t.Errorf("downsampled to %d points, last %v", len(pts), pts[len(pts)-1])
	}
}

// TestRehydrateText: the evidence and warnings are worded from the deltas,
// with bytes in MiB.
func TestRehydrateText(t *testing.T) {
	r := analysis.Rehydrate{RunID: "r", Arm: "B2", KVMode: results.KVModeCPUDisk, Verdict: results.RehydrateObserved, HaveKVBM: true, HaveReplay: true,
		Flags: []string{analysis.FlagPageCacheMasking}, KVBM: map[string]float64{results.KVBMOnboardD2D: 90},
		Replay: analysis.Deltas{KVBM: map[string]float64{results.KVBMOnboardD2D: 90}, DeviceReadBytes: 3 << 19, HaveDevice: true}}
	evidence, warnings := rehydrateText(r)
	want := "block device reads: replay 1.5 MiB, warm phases 0.0 MiB; writes in warm phases 0.0 MiB"
	if len(evidence) != 3 || evidence[2] != want || len(warnings) != 1 || !strings.Contains(warnings[0], "onboarded 90 blocks from disk in replay but the block device read only 1.5 MiB") {
		t.Errorf("evidence %q\nwarnings %q", evidence, warnings)
	}
	evidence, warnings = rehydrateText(analysis.Rehydrate{Verdict: results.RehydrateNoEvidence, TelemetryError: "io table: bad"})
	if len(evidence) != 0 || len(warnings) != 1 || warnings[0] != "telemetry unreadable: io table: bad" {
		t.Errorf("unreadable: evidence %q warnings %q", evidence, warnings)
	}
}

// TestFirstScreen: the headline is a percent change with its interval,
// the simulator is named before any number, runs without KVBM counters
// are said to have none (never "observed in 0 of N"), and the markdown
// has no HTML entities.
func TestFirstScreen(t *testing.T) {
	s := fixture()
	s.Header = analysis.Header{Targets: []analysis.Target{{Model: analysis.SimulatorModel, Host: "127.0.0.1", Simulator: true, Arms: []string{"B1", "B2"}}},
		Hosts: []results.Host{{Hostname: "spark", OS: "linux", Arch: "arm64", NumCPU: 20}}, ToolVersions: []string{"1.2.3"},
		FirstStartNs: 1796251179851919296, LastStartNs: 1796251279851919296, Scenarios: []string{"standard"},
		Shared: []analysis.Setting{{Key: "max-tokens", Value: "8"}, {Key: "stream", Value: "true"}}}
	s.Rehydrate = []analysis.Rehydrate{{RunID: "r2", Arm: "B2", Verdict: results.RehydrateNoEvidence}}
	md := string(markdown(t, s))
	for _, want := range []string{
		"> **Simulator data.**",
		"- **B2 vs B1, standard measure, c4, p50 TTFT: −19% [−25%, −10%], better, provisional**",
		"| capture host | spark (linux/arm64, 20 CPUs, kernel (not recorded)) |",
		"| started | first run 2026-12-02T22:39:39Z, last run 2026-12-02T22:41:19Z |",
		"| max output tokens | 8 |",
		"no KVBM counters were captured for 1 B2 run(s) (r2)",
		"see METHOD.md in the kvbench repository",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(md, "observed in 0 of") || strings.Contains(md, "&lt;") || strings.Contains(md, `\_`) {
		t.Errorf("report has 'observed in 0 of', an entity or an escaped underscore:\n%s", md)
	}
}

// TestUnstreamedTTFT: a run captured with --stream=false makes the
// verdict say that its TTFT is the first byte of the whole response.
func TestUnstreamedTTFT(t *testing.T) {
	s := fixture()
	const want = "TTFT of runs captured with `--stream=false` is the first byte"
	if md := string(markdown(t, s)); strings.Contains(md, want) {
		t.Errorf("streamed runs: report says %q", want)
	}
	s.Header.Shared = []analysis.Setting{{Key: "stream", Value: "false"}}
	if md := string(markdown(t, s)); !strings.Contains(md, want) {
		t.Errorf("report lacks %q", want)
	}
	s.Header.Shared = nil
	s.ConfigDiffs = []analysis.ConfigDiff{{Key: "stream", Values: []analysis.ArmValues{{Arm: "B1", Values: []string{"false", "true"}}}}}
	if md := string(markdown(t, s)); !strings.Contains(md, want) {
		t.Errorf("mixed runs: report lacks %q", want)
	}
}

// TestTicks: axes get several labels, within a decade on a log axis too.
func TestTicks(t *testing.T) {
	labels := func(ts []plot.Tick) (n int) {
		for _, t := range ts {
			if t.Label != "" {
				n++
			}
		}
		return n
	}
	for _, r := range [][2]float64{{3, 4.5}, {4.1, 9}, {0.8, 1500}} {
		if n := labels(logTicks{}.Ticks(r[0], r[1])); n < 2 {
			t.Errorf("log axis %v: %d labels", r, n)
		}
	}
	for _, r := range [][2]float64{{0, 1}, {0, 5.2}, {10.3, 21.9}, {0, 6000}} {
		if n := labels(linearTicks{}.Ticks(r[0], r[1])); n < 4 || n > 9 {
			t.Errorf("linear axis %v: %d labels", r, n)
		}
	}
}

// TestWriteOut: a second report into the same directory removes the
// plots the first wrote and no longer writes; a directory with other
// files is refused unless forced, and forcing leaves those files alone.
func TestWriteOut(t *testing.T) {
	dir := t.TempDir()
	s := fixture()
	s.Distributions = []analysis.Distribution{{Scenario: "standard", Phase: "measure", Arm: "B1", Metric: results.MetricTTFT, Sorted: []float64{1e6, 2e6}}}
	if _, err := Write(dir, s); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dir, "plots", "ttft_cdf_standard_measure.png")
	if _, err := os.Stat(old); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "plots", "kvbm_b2.png"), []byte("from an older report"), 0o644) // recognised by name
	s.Distributions = nil
	if _, err := Write(dir, s); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{old, filepath.Join(dir, "plots", "kvbm_b2.png")} {
		if _, err := os.Stat(gone); !os.IsNotExist(err) {
			t.Errorf("%s left behind", gone)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, OutManifest)); err != nil {
		t.Errorf("no %s: %v", OutManifest, err)
	}

	foreign := t.TempDir()
	mine := filepath.Join(foreign, "notes.txt")
	os.WriteFile(mine, []byte("mine"), 0o644)
	if _, err := Write(foreign, s); !errors.Is(err, ErrNotOurs) || !strings.Contains(err.Error(), "notes.txt") {
		t.Errorf("write into a foreign directory: %v; want ErrNotOurs naming notes.txt", err)
	}
	if _, err := WriteWith(foreign, s, WriteOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(mine); err != nil {
		t.Errorf("--force removed a file it did not write: %v", err)
	}
	if _, err := Write(foreign, s); !errors.Is(err, ErrNotOurs) {
		t.Errorf("a forced directory still holds notes.txt: %v; want ErrNotOurs", err)
	}
}

// TestPassRows: the passes of a repeated phase are rows of their own,
// named as the counters table names them.
func TestPassRows(t *testing.T) {
	s := fixture()
	g := s.Groups[0]
	s.Groups = nil
	for pass := 1; pass <= 2; pass++ {
		g.Scenario, g.Phase, g.Pass = "reuse_verify", results.PhaseReuse, pass
		s.Groups = append(s.Groups, g)
	}
	md := string(markdown(t, s))
	for _, want := range []string{"| reuse_verify | reuse #1 | B1 |", "| reuse_verify | reuse #2 | B1 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	var js bytes.Buffer
	if err := JSON(&js, s); err != nil || !strings.Contains(js.String(), `"pass": 2`) {
		t.Errorf("summary.json lacks the pass: %v", err)
	}
}
