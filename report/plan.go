package report

import (
	"fmt"
	"io"
	"math"
	"strings"

	"kvbench/analysis"
)

// PlanText writes the runs-per-arm plan of analyze plan as a Markdown section.
func PlanText(w io.Writer, p *analysis.Plan) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## Plan: runs per arm for %s p%s, phase %s\n\n", p.Metric, pct(p.Quantile), p.Phase)
	fmt.Fprintf(&b, "To detect a change of %s against %s with %s%% power at %s%% confidence (change taken as an increase, the harder direction). "+
		"Run time scales with requests per run at the pilot's pace; arm switches and cooldowns are extra.\n\n",
		p.Candidate, p.Baseline, pct(p.Power), pct(p.Confidence))
	for _, c := range p.Cells {
		where := fmt.Sprintf("%s / c%d", c.Scenario, c.Concurrency)
		if c.Sweep != "" {
			where += " / " + c.Sweep
		}
		fmt.Fprintf(&b, "### %s\n\n", esc(where))
		between := fmt.Sprintf("%.3g (sd %.1f%%)", c.Between, 100*math.Sqrt(c.Between))
		if c.Between == 0 {
			between = "0 (the pilot's runs differ no more than within-run noise explains; a few runs cannot rule out more)"
		}
		fmt.Fprintf(&b, "Pilot: %d %s and %d %s runs, %.0f requests per run, %.0f s per run. Log-quantile variance: between runs %s, within a run %.3g at %.0f requests (sd %.1f%%).\n\n",
			c.BaselineRuns, esc(p.Baseline), c.CandidateRuns, esc(p.Candidate), c.RequestsPerRun, c.RunSeconds,
			between, c.WithinN/c.RequestsPerRun, c.RequestsPerRun, 100*math.Sqrt(c.WithinN/c.RequestsPerRun))
		b.WriteString("| change | requests per run | runs per arm | planned power | time (both arms) |\n|---:|---:|---:|---:|---:|\n")
		for _, r := range c.Rows {
			runs, power, hours := "> max", "-", "-"
			if r.RunsPerArm > 0 {
				runs, power = fmt.Sprint(r.RunsPerArm), fixed(r.Power, 2)
				switch {
				case r.Hours >= 1:
					hours = fmt.Sprintf("%.1f h", r.Hours)
				case r.Hours >= 1.0/60:
					hours = fmt.Sprintf("%.0f min", 60*r.Hours)
				default:
					hours = fmt.Sprintf("%.0f s", 3600*r.Hours)
				}
			}
			reqs := fmt.Sprint(r.RequestsPerRun)
			if r.Least {
				reqs += " (least for these runs)"
			}
			fmt.Fprintf(&b, "| %s%% | %s | %s | %s | %s |\n", pct(r.Change), reqs, runs, power, hours)
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
