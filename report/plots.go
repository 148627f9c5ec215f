package report

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// armColors gives each arm a fixed colour so plots read the same everywhere.
var armColors = map[string]color.RGBA{
	"B0": {R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff},
	"B1": {R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	"B2": {R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
}

func armColor(arm string, i int) color.RGBA {
	if c, ok := armColors[arm]; ok {
		return c
	}
	extra := []color.RGBA{{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, {R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, {R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}}
	return extra[i%len(extra)]
}

// WritePlots writes every plot of the summary into dir as PNG and SVG and
// returns references relative to the report.
func WritePlots(dir string, s *Summary) ([]PlotRef, error) {
	var refs []PlotRef
	// One TTFT CDF per (scenario, phase), one line per arm.
	type panel struct{ scenario, phase string }
	var panels []panel
	seen := map[panel]bool{}
	for _, d := range s.Distributions {
		p := panel{d.Scenario, d.Phase}
		if d.Metric == "ttft_ms" && !seen[p] {
			seen[p] = true
			panels = append(panels, p)
		}
	}
	for _, pn := range panels {
		p := plot.New()
		p.Title.Text = fmt.Sprintf("TTFT CDF: %s / %s", pn.scenario, pn.phase)
		p.X.Label.Text = "time to first token (ms, log scale)"
		p.Y.Label.Text = "fraction of requests"
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = logTicks{}
		p.Y.Min, p.Y.Max = 0, 1
		p.Legend.Top = false
		p.Legend.Left = false
		p.Add(plotter.NewGrid())
		n := 0
		for _, d := range s.Distributions {
			if d.Metric != "ttft_ms" || d.Scenario != pn.scenario || d.Phase != pn.phase || len(d.Sorted) == 0 {
				continue
			}
			pts := cdfPoints(d.Sorted, 2000)
			line, err := plotter.NewLine(pts)
			if err != nil {
				return nil, fmt.Errorf("plot %s: %w", p.Title.Text, err)
			}
			line.Color = armColor(d.Arm, n)
			line.Width = vg.Points(1.5)
			p.Add(line)
			p.Legend.Add(fmt.Sprintf("%s (n=%d)", d.Arm, len(d.Sorted)), line)
			n++
		}
		if n == 0 {
			continue
		}
		name := "ttft_cdf_" + slug(pn.scenario) + "_" + slug(pn.phase)
		if err := save(p, dir, name); err != nil {
			return nil, err
		}
		refs = append(refs, PlotRef{Title: p.Title.Text, PNG: "plots/" + name + ".png", SVG: "plots/" + name + ".svg"})
	}
	return refs, nil
}

// cdfPoints returns at most max points of the empirical CDF of sorted,
// with positive x (log axes cannot show zero).
func cdfPoints(sorted []float64, max int) plotter.XYs {
	n := len(sorted)
	step := 1
	if n > max {
		step = (n + max - 1) / max
	}
	var pts plotter.XYs
	for i := 0; i < n; i += step {
		x := sorted[i]
		if x <= 0 {
			continue
		}
		pts = append(pts, plotter.XY{X: x, Y: float64(i+1) / float64(n)})
	}
	if last := sorted[n-1]; last > 0 && (len(pts) == 0 || pts[len(pts)-1].Y != 1) {
		pts = append(pts, plotter.XY{X: last, Y: 1})
	}
	if len(pts) == 0 {
		pts = append(pts, plotter.XY{X: 1e-3, Y: 1})
	}
	return pts
}

func save(p *plot.Plot, dir, name string) error {
	for _, ext := range []string{".png", ".svg"} {
		path := filepath.Join(dir, name+ext)
		if err := p.Save(16*vg.Centimeter, 10*vg.Centimeter, path); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
}

// slug makes a file-name-safe token from data.
func slug(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			b.WriteRune(r)
		case r >= 'A' && r <= 'Z':
			b.WriteRune(r + 32)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "x"
	}
	return b.String()
}

// logTicks labels a log axis at 1, 2 and 5 times powers of ten, so short
// ranges (a decade or less) still get readable labels.
type logTicks struct{}

// Ticks implements plot.Ticker.
func (logTicks) Ticks(min, max float64) []plot.Tick {
	if min <= 0 || max <= min {
		return nil
	}
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(min)); e <= math.Ceil(math.Log10(max)); e++ {
		base := math.Pow(10, e)
		for m := 1; m <= 9; m++ {
			v := float64(m) * base
			if v < min || v > max {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || m == 2 || m == 5 {
				t.Label = strconv.FormatFloat(v, 'g', 4, 64)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}
