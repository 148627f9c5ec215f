package kvbench_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSLOKneeOfRateSweep sweeps the open-loop request rate over a
// simulator whose capacity is known: one sequence at a time (--max-batch
// 1), four output tokens 15 ms apart, so 45 ms a request and 22
// requests/s. With ttft=300ms as the SLO, 4 and 8 requests/s keep up; at
// 60 and 120 the queue grows by 28 and 37 ms a request, so about half of
// 20 requests wait past 300 ms. The knee of each arm is 8 requests/s. The report and summary.json
// carry attainment and goodput with intervals and compare B2 with B1.
func TestSLOKneeOfRateSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	capture, analyze := binaries(t)
	dir := t.TempDir()
	arm := func(name, kv string) string {
		return fmt.Sprintf(`  - name: %s
    start: ["{capture}", "sim", "--kv-mode", "%s", "--preset", "fast", "--max-batch", "1", "--cost-decode-per-token", "15ms",
            "--listen", "127.0.0.1:0", "--kvbm-listen", "127.0.0.1:0", "--system-listen", "127.0.0.1:0"]
    ready: {timeout_s: 20}
`, name, kv)
	}
	plan := filepath.Join(dir, "plan.yaml")
	os.WriteFile(plan, []byte(`campaign: knee
results_dir: `+filepath.Join(dir, "res")+`
seed: 5
repetitions: 2
run: {scenario: standard, requests: 20, warmup: 0, concurrency: 64, max-tokens: 4, stream: true, no-progress: true,
      slo: ["ttft=300ms"]}
sweep:
  - flag: request-rate
    values: [4, 8, 60, 120]
arms:
`+arm("B1", "cpu_only")+arm("B2", "cpu_disk")), 0o644)
	runCmd(t, 0, capture, "campaign", plan)
	out := filepath.Join(dir, "report")
	runCmd(t, 0, analyze, "report", filepath.Join(dir, "res"), "--out", out)
	var sum struct {
		Knees []struct {
			Arm            string
			RateRPS        float64 `json:"rate_rps"`
			RateLo, RateHi float64
			Points         []struct {
				AttainmentPct float64 `json:"attainment_pct"`
			}
		} `json:"slo_knees"`
		Comparisons []struct{ Metric, Verdict string }
		Groups      []struct {
			RunMetrics []struct {
				Name   string
				Lo, Hi *float64
			} `json:"run_metrics"`
		}
	}
	js, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &sum); err != nil {
		t.Fatal(err)
	}
	if len(sum.Knees) != 2 {
		t.Fatalf("%d knees; want one per arm: %+v", len(sum.Knees), sum.Knees)
	}
	for _, k := range sum.Knees {
		if k.RateRPS != 8 || len(k.Points) != 4 {
			t.Errorf("%s: knee %v req/s over %d points %+v; want 8 (capacity 22/s)", k.Arm, k.RateRPS, len(k.Points), k.Points)
		}
	}
	metrics := map[string]bool{}
	for _, c := range sum.Comparisons {
		metrics[c.Metric] = true
	}
	for _, m := range []string{"goodput_rps", "slo_attainment_pct"} {
		if !metrics[m] {
			t.Errorf("no %s comparison among %v", m, metrics)
		}
	}
	withInterval := 0
	for _, g := range sum.Groups {
		for _, m := range g.RunMetrics {
			if m.Name == "goodput_rps" && m.Lo != nil && m.Hi != nil {
				withInterval++
			}
		}
	}
	if withInterval < 8 {
		t.Errorf("%d groups have a goodput interval; want all 8 (2 arms × 4 rates, 2 runs each)", withInterval)
	}
	md, _ := os.ReadFile(filepath.Join(out, "report.md"))
	for _, want := range []string{"## SLO attainment and goodput", "slo_knee_standard_measure.png"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
}
