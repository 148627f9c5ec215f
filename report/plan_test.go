package report

import (
	"strings"
	"testing"

	"kvbench/analysis"
)

func TestPlanText(t *testing.T) {
	p := &analysis.Plan{Metric: "ttft", Phase: "replay", Quantile: 0.5, Power: 0.8, Confidence: 0.95, Baseline: "B1", Candidate: "B2",
		Cells: []analysis.PlanCell{{Scenario: "s", Concurrency: 2, BaselineRuns: 3, CandidateRuns: 3, RequestsPerRun: 300, Between: 0.01, WithinN: 1.5, RunSeconds: 600,
			Rows: []analysis.PlanRow{{Change: 0.1, RequestsPerRun: 300, RunsPerArm: 12, Power: 0.81, Hours: 4},
				{Change: 0.1, RequestsPerRun: 240, RunsPerArm: 12, Power: 0.80, Hours: 3.2, Least: true}, {Change: 0.05, RequestsPerRun: 300},
				{Change: 0.2, RequestsPerRun: 300, RunsPerArm: 2, Power: 0.9, Hours: 0.01}}}}}
	var b strings.Builder
	if err := PlanText(&b, p); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"runs per arm for ttft p50, phase replay", "| 10% | 300 | 12 | 0.81 | 4.0 h |", "| 10% | 240 (least for these runs) | 12 | 0.80 | 3.2 h |", "| 5% | 300 | > max | - | - |", "| 20% | 300 | 2 | 0.90 | 36 s |", "between runs 0.01 (sd 10.0%)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("plan text lacks %q:\n%s", want, b.String())
		}
	}
}
