package report

import (
	"bytes"
	"fmt"
	"image/color"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"kvbench/analysis"
	"kvbench/results"
)

// goodputLines lead the verdict when requests were judged by an SLO:
// goodput and attainment of the candidate against the baseline in each
// verdict phase.
func goodputLines(b *bytes.Buffer, s *analysis.Summary) {
	for _, c := range s.Comparisons {
		if !results.IsPrimaryPhase(c.Phase) || (c.Metric != results.MetricGoodput && c.Metric != results.MetricSLOAttainment) {
			continue
		}
		u := metricUnit(c.Unit)
		what := "goodput (requests meeting the SLO per second)"
		if c.Metric == results.MetricSLOAttainment {
			what = "SLO attainment"
		}
		fmt.Fprintf(b, "- **%s vs %s, %s, %s: %s, %s, %s** (%s %s %s, %s %s %s).\n", esc(s.Method.Candidate), esc(s.Method.Baseline),
			placeOf(c), what, changeInterval(c), esc(c.Verdict), esc(c.Grade),
			esc(s.Method.Candidate), num(u.of(c.Candidate)), u.word, esc(s.Method.Baseline), num(u.of(c.Baseline)), u.word)
	}
}

// sloSection explains the SLO metrics and lists each rate sweep's knee.
// Attainment and goodput themselves are run-level metrics: they appear in
// the throughput table and the comparisons.
func sloSection(b *bytes.Buffer, s *analysis.Summary) {
	if !hasSLOMetrics(s) {
		return
	}
	b.WriteString("## SLO attainment and goodput\n\n")
	slo := "each run's own `--slo`"
	if s.SLO != "" {
		slo = "`" + s.SLO + "` (given to analyze)"
	}
	fmt.Fprintf(b, "A request meets the SLO (%s) when it succeeded and every bound holds; the ITL bound applies to the request's "+
		"90th-percentile gap between content chunks. `slo_attainment` is the share of a run's requests that meet it, `goodput_rps` "+
		"those requests per second of phase time; both are compared like throughput (higher is better).\n\n", slo)
	if len(s.Knees) == 0 {
		return
	}
	fmt.Fprintf(b, "Highest request rate that keeps attainment at or above %s%% (every lower rate too); the bracket is the highest rate whose interval lies wholly above the target, and the highest whose interval reaches it.\n\n",
		pct(s.Knees[0].Target))
	b.WriteString("| scenario | phase | arm | knee (req/s) | bracket | rates swept |\n|---|---|---|---:|---|---|\n")
	for _, k := range s.Knees {
		var rates []string
		for _, p := range k.Points {
			rates = append(rates, fmt.Sprintf("%s: %s%%", trimNum(p.Rate), fixed(100*p.Attainment, 1)))
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | [%s, %s] | %s |\n", esc(k.Scenario), esc(k.Phase), esc(k.Arm), trimNum(k.Rate),
			trimNum(k.Lo), trimNum(k.Hi), joinComma(rates))
	}
	b.WriteString("\n")
}

func hasSLOMetrics(s *analysis.Summary) bool {
	for _, g := range s.Groups {
		for _, m := range g.RunMetrics {
			if m.Name == results.MetricSLOAttainment {
				return true
			}
		}
	}
	return false
}

func trimNum(v float64) string { return fmt.Sprint(v) }

func joinComma(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(x)
	}
	return b.String()
}

// kneePlots draws SLO attainment against the offered request rate, one
// line per arm, with the target as a dashed line.
func kneePlots(s *analysis.Summary) ([]namedPlot, error) {
	type panel struct{ scenario, phase string }
	var panels []panel
	seen := map[panel]bool{}
	for _, k := range s.Knees {
		p := panel{k.Scenario, k.Phase}
		if !seen[p] {
			seen[p] = true
			panels = append(panels, p)
		}
	}
	var out []namedPlot
	for _, pn := range panels {
		p := newPlot(fmt.Sprintf("SLO attainment vs request rate: %s / %s", pn.scenario, pn.phase), "offered request rate (req/s, log scale)", "requests meeting the SLO (%)")
		p.X.Scale = plot.LogScale{}
		var ticks rateTicks
		for _, k := range s.Knees {
			if k.Scenario == pn.scenario && k.Phase == pn.phase {
				for _, pt := range k.Points {
					ticks = append(ticks, pt.Rate)
				}
			}
		}
		p.X.Tick.Marker = ticks
		p.Add(plotter.NewGrid())
		target := 0.0
		for i, k := range s.Knees {
			if k.Scenario != pn.scenario || k.Phase != pn.phase {
				continue
			}
			target = k.Target
			if err := kneeLine(p, k, armColor(k.Arm, i)); err != nil {
				return nil, err
			}
		}
		if err := targetLine(p, target); err != nil {
			return nil, err
		}
		p.Y.Min, p.Y.Max = 0, 105
		if n := len(ticks); n > 0 {
			lo, hi := slices.Min(ticks), slices.Max(ticks)
			p.X.Min, p.X.Max = lo/1.3, hi*1.3
		}
		p.Legend.Top, p.Legend.Left = false, true
		out = append(out, namedPlot{p, "slo_knee_" + slug(pn.scenario) + "_" + slug(pn.phase)})
	}
	return out, nil
}

// rateTicks labels the rates a sweep visited.
type rateTicks []float64

func (r rateTicks) Ticks(min, max float64) []plot.Tick {
	var out []plot.Tick
	seen := map[float64]bool{}
	for _, v := range r {
		if !seen[v] && v >= min && v <= max {
			seen[v] = true
			out = append(out, plot.Tick{Value: v, Label: trimNum(v)})
		}
	}
	return out
}

// kneeLine adds one arm's attainment points with their intervals.
func kneeLine(p *plot.Plot, k analysis.Knee, c color.Color) error {
	var w whiskers
	for _, pt := range k.Points {
		v := fraction.of(pt.Attainment)
		w.pts = append(w.pts, plotter.XY{X: pt.Rate, Y: v})
		lo, hi := fraction.of(max(pt.Lo, 0)), fraction.of(min(pt.Hi, 1))
		w.errs = append(w.errs, struct{ Low, High float64 }{v - lo, hi - v})
	}
	line, points, err := plotter.NewLinePoints(w.pts)
	if err != nil {
		return err
	}
	line.Color, points.Color = c, c
	bars, err := w.bars(c)
	if err != nil {
		return err
	}
	p.Add(line, points, bars)
	p.Legend.Add(fmt.Sprintf("%s (knee %s req/s)", k.Arm, trimNum(k.Rate)), line)
	return nil
}

// targetLine draws the attainment target across the plot.
func targetLine(p *plot.Plot, target float64) error {
	f := plotter.NewFunction(func(float64) float64 { return fraction.of(target) })
	f.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	f.Color = color.Gray{Y: 0x60}
	p.Add(f)
	p.Legend.Add(fmt.Sprintf("target %s%%", pct(target)), f)
	return nil
}
