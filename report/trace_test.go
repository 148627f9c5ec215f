package report

import (
	"bytes"
	"strings"
	"testing"

	"kvbench/results"
)

// TestTraceSplitLabel: a trace run's prefix split labels its phase cells
// in report.md and is a field of its groups and comparisons in
// summary.json.
func TestTraceSplitLabel(t *testing.T) {
	s := fixture()
	for i := range s.Groups {
		s.Groups[i].Scenario, s.Groups[i].Split = results.ScenarioTrace, results.SplitPrefixSeen
	}
	for i := range s.Comparisons {
		s.Comparisons[i].Scenario, s.Comparisons[i].Split = results.ScenarioTrace, results.SplitPrefixSeen
	}
	md := string(markdown(t, s))
	if !strings.Contains(md, "measure (prefix seen)") {
		t.Errorf("report.md does not label the split:\n%s", md)
	}
	var js bytes.Buffer
	if err := JSON(&js, s); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(js.String(), `"split": "prefix seen"`); n < 2 {
		t.Errorf("summary.json has the split %d times; want the group and the comparison", n)
	}
}
