package report

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"sort"
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
		ref, err := save(p, dir, name)
		if err != nil {
			return nil, err
		}
		refs = append(refs, ref)
	}
	for _, more := range []func(string, *Summary) ([]PlotRef, error){quantilePlots, sweepPlots, timelinePlots, ioPlots} {
		r, err := more(dir, s)
		if err != nil {
			return nil, err
		}
		refs = append(refs, r...)
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

// save writes a plot as PNG and SVG and returns its reference.
func save(p *plot.Plot, dir, name string) (PlotRef, error) {
	for _, ext := range []string{".png", ".svg"} {
		path := filepath.Join(dir, name+ext)
		if err := p.Save(16*vg.Centimeter, 10*vg.Centimeter, path); err != nil {
			return PlotRef{}, fmt.Errorf("write %s: %w", path, err)
		}
	}
	return PlotRef{Title: p.Title.Text, PNG: "plots/" + name + ".png", SVG: "plots/" + name + ".svg"}, nil
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

// quantilePlots draws, per (scenario, phase, concurrency), TTFT quantiles
// with their interval whiskers, one series per arm.
func quantilePlots(dir string, s *Summary) ([]PlotRef, error) {
	type key struct {
		sc, ph string
		conc   int
		sweep  string
	}
	var keys []key
	byKey := map[key][]Group{}
	for _, g := range s.Groups {
		k := key{g.Scenario, g.Phase, g.Concurrency, g.Sweep}
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], g)
	}
	var refs []PlotRef
	for _, k := range keys {
		groups := byKey[k]
		p := plot.New()
		p.Title.Text = fmt.Sprintf("TTFT quantiles with 95%% intervals: %s / %s / c%d", k.sc, k.ph, k.conc)
		if k.sweep != "" {
			p.Title.Text += " [" + k.sweep + "]"
		}
		p.X.Label.Text = "quantile (p50, p90, p95, p99)"
		p.Y.Label.Text = "time to first token (ms)"
		p.Add(plotter.NewGrid())
		n := 0
		for gi, g := range groups {
			var m *Metric
			for i := range g.Metrics {
				if g.Metrics[i].Name == "ttft_ms" {
					m = &g.Metrics[i]
				}
			}
			if m == nil {
				continue
			}
			var pts plotter.XYs
			var errs plotter.YErrors
			for qi, q := range m.Quantiles {
				x := float64(qi) + 0.12*float64(gi) - 0.06*float64(len(groups)-1)
				pts = append(pts, plotter.XY{X: x, Y: q.Value})
				lo, hi := 0.0, 0.0
				if q.Lo != nil && q.Hi != nil {
					lo, hi = q.Value-*q.Lo, *q.Hi-q.Value
				}
				errs = append(errs, struct{ Low, High float64 }{lo, hi})
			}
			sc, err := plotter.NewScatter(pts)
			if err != nil {
				return nil, err
			}
			sc.Color = armColor(g.Arm, gi)
			sc.GlyphStyle.Radius = vg.Points(3)
			bars, err := plotter.NewYErrorBars(struct {
				plotter.XYer
				plotter.YErrorer
			}{pts, errs})
			if err != nil {
				return nil, err
			}
			bars.Color = sc.Color
			p.Add(sc, bars)
			p.Legend.Add(fmt.Sprintf("%s (%d runs)", g.Arm, g.NRuns), sc)
			n++
		}
		if n == 0 {
			continue
		}
		p.NominalX("p50", "p90", "p95", "p99")
		p.Legend.Top, p.Legend.Left = true, true
		name := fmt.Sprintf("ttft_quantiles_%s_%s_c%d", slug(k.sc), slug(k.ph), k.conc)
		if k.sweep != "" {
			name += "_" + slug(k.sweep)
		}
		ref, err := save(p, dir, name)
		if err != nil {
			return nil, err
		}
		refs = append(refs, ref)
	}
	return refs, nil
}

// timelinePlots draws TTFT over time per arm, every run of the arm
// overlaid, with the phases of its first run as bands.
func timelinePlots(dir string, s *Summary) ([]PlotRef, error) {
	var arms []string
	byArm := map[string][]Timeline{}
	for _, tl := range s.Timelines {
		if len(tl.T) == 0 {
			continue
		}
		if _, ok := byArm[tl.Arm]; !ok {
			arms = append(arms, tl.Arm)
		}
		byArm[tl.Arm] = append(byArm[tl.Arm], tl)
	}
	var refs []PlotRef
	for ai, arm := range arms {
		tls := byArm[arm]
		p := plot.New()
		p.Title.Text = fmt.Sprintf("TTFT over time: %s (%d runs overlaid)", arm, len(tls))
		p.X.Label.Text = "seconds since run start"
		p.Y.Label.Text = "time to first token (ms)"
		ymax := 0.0
		for _, tl := range tls {
			for _, v := range tl.TTFT {
				ymax = math.Max(ymax, v)
			}
		}
		if err := bands(p, tls[0].Phases, ymax); err != nil {
			return nil, err
		}
		for _, tl := range tls {
			pts := make(plotter.XYs, len(tl.T))
			for i := range tl.T {
				pts[i] = plotter.XY{X: tl.T[i], Y: tl.TTFT[i]}
			}
			sc, err := plotter.NewScatter(pts)
			if err != nil {
				return nil, err
			}
			sc.Color = armColor(arm, ai)
			sc.GlyphStyle.Radius = vg.Points(1.2)
			p.Add(sc)
		}
		p.Y.Min = 0
		name := "ttft_timeline_" + slug(arm)
		ref, err := save(p, dir, name)
		if err != nil {
			return nil, err
		}
		refs = append(refs, ref)
	}
	return refs, nil
}

// sweepPlots draws p50 and p99 TTFT against concurrency per arm for every
// (scenario, phase) measured at two or more concurrencies.
func sweepPlots(dir string, s *Summary) ([]PlotRef, error) {
	type key struct{ sc, ph string }
	var keys []key
	concs := map[key]map[int]bool{}
	for _, g := range s.Groups {
		k := key{g.Scenario, g.Phase}
		if concs[k] == nil {
			concs[k] = map[int]bool{}
			keys = append(keys, k)
		}
		concs[k][g.Concurrency] = true
	}
	var refs []PlotRef
	for _, k := range keys {
		if len(concs[k]) < 2 {
			continue
		}
		p := plot.New()
		p.Title.Text = fmt.Sprintf("TTFT vs concurrency: %s / %s", k.sc, k.ph)
		p.X.Label.Text = "concurrency"
		p.Y.Label.Text = "time to first token (ms)"
		p.Add(plotter.NewGrid())
		arms := []string{}
		seen := map[string]bool{}
		for _, g := range s.Groups {
			if g.Scenario == k.sc && g.Phase == k.ph && !seen[g.Arm] {
				seen[g.Arm] = true
				arms = append(arms, g.Arm)
			}
		}
		for ai, arm := range arms {
			for _, q := range []struct {
				p    float64
				dash bool
			}{{0.5, false}, {0.99, true}} {
				var pts plotter.XYs
				var errs plotter.YErrors
				for _, g := range s.Groups {
					if g.Scenario != k.sc || g.Phase != k.ph || g.Arm != arm {
						continue
					}
					for _, m := range g.Metrics {
						if m.Name != "ttft_ms" {
							continue
						}
						for _, e := range m.Quantiles {
							if e.P == q.p {
								pts = append(pts, plotter.XY{X: float64(g.Concurrency), Y: e.Value})
								lo, hi := 0.0, 0.0
								if e.Lo != nil && e.Hi != nil {
									lo, hi = e.Value-*e.Lo, *e.Hi-e.Value
								}
								errs = append(errs, struct{ Low, High float64 }{lo, hi})
							}
						}
					}
				}
				if len(pts) == 0 {
					continue
				}
				line, points, err := plotter.NewLinePoints(pts)
				if err != nil {
					return nil, err
				}
				c := armColor(arm, ai)
				line.Color, points.Color = c, c
				if q.dash {
					line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
				}
				bars, err := plotter.NewYErrorBars(struct {
					plotter.XYer
					plotter.YErrorer
				}{pts, errs})
				if err != nil {
					return nil, err
				}
				bars.Color = c
				p.Add(line, points, bars)
				p.Legend.Add(fmt.Sprintf("%s p%s", arm, pct(q.p)), line)
			}
		}
		p.Legend.Top, p.Legend.Left = true, true
		name := "sweep_" + slug(k.sc) + "_" + slug(k.ph)
		ref, err := save(p, dir, name)
		if err != nil {
			return nil, err
		}
		refs = append(refs, ref)
	}
	return refs, nil
}

// ioPlots draws, for the first run of each arm that has telemetry, disk
// read/write MiB/s and KVBM counters over time with phase bands.
func ioPlots(dir string, s *Summary) ([]PlotRef, error) {
	var refs []PlotRef
	done := map[string]bool{}
	for _, io := range s.IOSeries {
		if done[io.Arm] || (len(io.DiskRead) == 0 && len(io.Counters) == 0) {
			continue
		}
		done[io.Arm] = true
		if len(io.DiskRead) > 0 {
			p := plot.New()
			p.Title.Text = fmt.Sprintf("Disk throughput: %s (run %s)", io.Arm, io.RunID)
			p.X.Label.Text = "seconds since run start"
			p.Y.Label.Text = "MiB/s (all sampled block devices)"
			ymax := 1.0
			for _, pt := range append(append([][2]float64{}, io.DiskRead...), io.DiskWrite...) {
				ymax = math.Max(ymax, pt[1])
			}
			if err := bands(p, io.Phases, ymax); err != nil {
				return nil, err
			}
			for i, ser := range []struct {
				name string
				pts  [][2]float64
				c    color.RGBA
			}{{"read", io.DiskRead, color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}}, {"write", io.DiskWrite, color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}}} {
				l, err := plotter.NewLine(xys(ser.pts))
				if err != nil {
					return nil, err
				}
				l.Color = ser.c
				if i == 1 {
					l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
				}
				p.Add(l)
				p.Legend.Add(ser.name, l)
			}
			p.Y.Min = 0
			name := "disk_" + slug(io.Arm)
			ref, err := save(p, dir, name)
			if err != nil {
				return nil, err
			}
			refs = append(refs, ref)
		}
		if len(io.Counters) > 0 {
			p := plot.New()
			p.Title.Text = fmt.Sprintf("KVBM counters: %s (run %s)", io.Arm, io.RunID)
			p.X.Label.Text = "seconds since run start"
			p.Y.Label.Text = "blocks (cumulative)"
			ymax := 1.0
			var roles []string
			for role, pts := range io.Counters {
				if role == "matched_tokens" {
					continue
				}
				roles = append(roles, role)
				for _, pt := range pts {
					ymax = math.Max(ymax, pt[1])
				}
			}
			sort.Strings(roles)
			if err := bands(p, io.Phases, ymax); err != nil {
				return nil, err
			}
			for i, role := range roles {
				l, err := plotter.NewLine(xys(io.Counters[role]))
				if err != nil {
					return nil, err
				}
				l.Color = armColor("", i)
				if c, ok := roleColors[role]; ok {
					l.Color = c
				}
				l.Width = vg.Points(1.5)
				p.Add(l)
				p.Legend.Add(role, l)
			}
			p.Legend.Top, p.Legend.Left = true, true
			p.Y.Min = 0
			name := "kvbm_" + slug(io.Arm)
			ref, err := save(p, dir, name)
			if err != nil {
				return nil, err
			}
			refs = append(refs, ref)
		}
	}
	return refs, nil
}

var roleColors = map[string]color.RGBA{
	"offload_d2h": {R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, "offload_h2d": {R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	"onboard_h2d": {R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, "onboard_d2d": {R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	"offload_d2d": {R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, "onboard_d2h": {R: 0x8c, G: 0x56, B: 0x4b, A: 0xff},
}

func xys(pts [][2]float64) plotter.XYs {
	out := make(plotter.XYs, len(pts))
	for i, p := range pts {
		out[i] = plotter.XY{X: p[0], Y: p[1]}
	}
	return out
}

// bands shades each phase and labels it at the top.
func bands(p *plot.Plot, phases []Span, ymax float64) error {
	for i, ph := range phases {
		if ph.End <= ph.Start {
			continue
		}
		shade := color.RGBA{R: 0xf0, G: 0xf0, B: 0xf0, A: 0xff}
		if i%2 == 1 {
			shade = color.RGBA{R: 0xdd, G: 0xe6, B: 0xf0, A: 0xff}
		}
		band, err := plotter.NewPolygon(plotter.XYs{{X: ph.Start, Y: 0}, {X: ph.End, Y: 0}, {X: ph.End, Y: ymax * 1.08}, {X: ph.Start, Y: ymax * 1.08}})
		if err != nil {
			return err
		}
		band.Color = shade
		band.LineStyle.Width = 0
		lbl, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: ph.Start, Y: ymax * 1.04}}, Labels: []string{ph.Name}})
		if err != nil {
			return err
		}
		p.Add(band, lbl)
	}
	return nil
}
