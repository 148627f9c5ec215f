package report

import (
	"fmt"
	"image/color"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"kvbench/analysis"
	"kvbench/results"
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

// roleColors gives each KVBM counter role a fixed colour.
var roleColors = map[string]color.RGBA{
	results.KVBMOffloadD2H: {R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, results.KVBMOffloadH2D: {R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	results.KVBMOnboardH2D: {R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, results.KVBMOnboardD2D: {R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	results.KVBMOffloadD2D: {R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, results.KVBMOnboardD2H: {R: 0x8c, G: 0x56, B: 0x4b, A: 0xff},
}

// Axis labels, with their units.
var (
	ttftLabel    = "time to first token (" + timing.word + ")"
	elapsedLabel = "time since run start (" + elapsed.word + ")"
)

// WritePlots writes every plot of the summary into dir as PNG and SVG and
// returns references relative to the report.
func WritePlots(dir string, s *analysis.Summary) ([]PlotRef, error) {
	var refs []PlotRef
	for _, plots := range []func(*analysis.Summary) ([]namedPlot, error){cdfPlots, quantilePlots, sweepPlots, kneePlots, timelinePlots, ioPlots} {
		ps, err := plots(s)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			ref, err := save(p, dir)
			if err != nil {
				return nil, err
			}
			refs = append(refs, ref)
		}
	}
	return refs, nil
}

// namedPlot is a plot with its file name (without extension).
type namedPlot struct {
	*plot.Plot
	name string
}

// newPlot returns a plot with a title and axis labels.
func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.X.Tick.Marker, p.Y.Tick.Marker = linearTicks{}, linearTicks{}
	return p
}

// linearTicks labels a linear axis at four to eight round values (1, 2 or
// 5 times a power of ten apart), with an unlabelled tick between them;
// gonum's default labels only two or three.
type linearTicks struct{}

// Ticks implements plot.Ticker.
func (linearTicks) Ticks(min, max float64) []plot.Tick {
	if !(max > min) || math.IsInf(max-min, 0) {
		return plot.DefaultTicks{}.Ticks(min, max)
	}
	raw := (max - min) / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{2, 5, 10} {
		if raw/mag > m*0.75 {
			step = m * mag
		}
	}
	decimals := 0
	if step < 1 {
		decimals = int(-math.Floor(math.Log10(step)))
	}
	var ticks []plot.Tick
	half := step / 2
	for i := math.Ceil(min / half); i*half <= max+half*1e-9; i++ {
		v := i * half
		t := plot.Tick{Value: v}
		if math.Mod(i, 2) == 0 {
			t.Label = strconv.FormatFloat(v, 'f', decimals, 64)
			if math.Abs(v) < step*1e-9 {
				t.Label = "0"
			}
		}
		ticks = append(ticks, t)
	}
	return ticks
}

// Plot size: the plot itself and, to its right, a column for the legend,
// so a legend never covers data, phase labels or the title.
var (
	plotWidth  = 16 * vg.Centimeter
	plotHeight = 10 * vg.Centimeter
	legendGap  = vg.Points(8)
)

// save writes a plot as PNG and SVG and returns its reference. The legend
// is drawn beside the plot, not inside it.
func save(p namedPlot, dir string) (PlotRef, error) {
	leg := p.Legend
	p.Legend = plot.NewLegend()
	defer func() { p.Legend = leg }()
	leg.Top, leg.Left = true, true
	for _, ext := range []string{".png", ".svg"} {
		path := filepath.Join(dir, p.name+ext)
		if err := drawFile(p.Plot, &leg, path, ext[1:]); err != nil {
			return PlotRef{}, fmt.Errorf("write %s: %w", path, err)
		}
	}
	return PlotRef{Title: p.Title.Text, PNG: "plots/" + p.name + ".png", SVG: "plots/" + p.name + ".svg"}, nil
}

// drawFile draws the plot with its legend in a column on the right and
// writes it in format to path.
func drawFile(p *plot.Plot, leg *plot.Legend, path, format string) error {
	probe, err := draw.NewFormattedCanvas(plotWidth, plotHeight, format)
	if err != nil {
		return err
	}
	legW := leg.Rectangle(draw.New(probe)).Size().X
	if legW > 0 {
		legW += legendGap
	}
	c, err := draw.NewFormattedCanvas(plotWidth+legW, plotHeight, format)
	if err != nil {
		return err
	}
	dc := draw.New(c)
	dc.SetColor(color.White) // the legend column too, not only the plot's own background
	dc.Fill(dc.Rectangle.Path())
	p.Draw(draw.Crop(dc, 0, -legW, 0, 0))
	if legW > 0 {
		top := p.Title.TextStyle.Rectangle(p.Title.Text).Size().Y + p.Title.Padding
		leg.Draw(draw.Crop(dc, plotWidth+legendGap, 0, 0, -top))
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// cdfPlots draws one TTFT CDF per (scenario, phase), one line per arm.
func cdfPlots(s *analysis.Summary) ([]namedPlot, error) {
	type panel struct{ scenario, phase string }
	var panels []panel
	for _, d := range s.Distributions {
		p := panel{d.Scenario, d.Phase}
		if d.Metric == results.MetricTTFT && !slices.Contains(panels, p) {
			panels = append(panels, p)
		}
	}
	var out []namedPlot
	for _, pn := range panels {
		p := newPlot(fmt.Sprintf("TTFT CDF: %s / %s", pn.scenario, pn.phase), "time to first token ("+timing.word+", log scale)", "fraction of requests")
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = logTicks{}
		p.Y.Min, p.Y.Max = 0, 1
		p.Add(plotter.NewGrid())
		n := 0
		for _, d := range s.Distributions {
			if d.Metric != results.MetricTTFT || d.Scenario != pn.scenario || d.Phase != pn.phase || len(d.Sorted) == 0 {
				continue
			}
			line, err := plotter.NewLine(cdfPoints(d.Sorted, 2000, timing))
			if err != nil {
				return nil, fmt.Errorf("plot %s: %w", p.Title.Text, err)
			}
			line.Color = armColor(d.Arm, n)
			line.Width = vg.Points(1.5)
			p.Add(line)
			p.Legend.Add(fmt.Sprintf("%s (n=%d)", d.Arm, len(d.Sorted)), line)
			n++
		}
		if n > 0 {
			out = append(out, namedPlot{p, "ttft_cdf_" + slug(pn.scenario) + "_" + slug(pn.phase)})
		}
	}
	return out, nil
}

// cdfPoints returns at most max points of the empirical CDF of sorted,
// shown in u, with positive x (log axes cannot show zero).
func cdfPoints(sorted []float64, max int, u unit) plotter.XYs {
	n := len(sorted)
	step := 1
	if n > max {
		step = (n + max - 1) / max
	}
	var pts plotter.XYs
	for i := 0; i < n; i += step {
		if x := u.of(sorted[i]); x > 0 {
			pts = append(pts, plotter.XY{X: x, Y: float64(i+1) / float64(n)})
		}
	}
	if last := u.of(sorted[n-1]); last > 0 && (len(pts) == 0 || pts[len(pts)-1].Y != 1) {
		pts = append(pts, plotter.XY{X: last, Y: 1})
	}
	if len(pts) == 0 {
		pts = append(pts, plotter.XY{X: 1e-3, Y: 1})
	}
	return pts
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

// logTicks labels a log axis at 1, 2 and 5 times powers of ten; when that
// gives fewer than four labels (a range of a decade or so), every minor
// tick is labelled too, so an axis always has several labels.
type logTicks struct{}

// Ticks implements plot.Ticker.
func (logTicks) Ticks(min, max float64) []plot.Tick {
	if min <= 0 || max <= min {
		return nil
	}
	var ticks []plot.Tick
	labelled := 0
	for e := math.Floor(math.Log10(min)); e <= math.Ceil(math.Log10(max)); e++ {
		base := math.Pow(10, e)
		for m := 1; m <= 9; m++ {
			v := float64(m) * base
			if v < min || v > max {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || m == 2 || m == 5 {
				t.Label = tickLabel(v)
				labelled++
			}
			ticks = append(ticks, t)
		}
	}
	if labelled < 4 {
		for i := range ticks {
			ticks[i].Label = tickLabel(ticks[i].Value)
		}
	}
	if len(ticks) < 2 { // less than one step of the 1..9 grid: linear ticks
		return plot.DefaultTicks{}.Ticks(min, max)
	}
	return ticks
}

func tickLabel(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

// ttftOf returns a group's TTFT metric, or nil.
func ttftOf(g analysis.Group) *analysis.Metric {
	for i := range g.Metrics {
		if g.Metrics[i].Name == results.MetricTTFT {
			return &g.Metrics[i]
		}
	}
	return nil
}

// whiskers collects estimates as points with their interval whiskers, in
// display units.
type whiskers struct {
	pts  plotter.XYs
	errs plotter.YErrors
	// bare holds the points without an interval.
	bare plotter.XYs
}

func (w *whiskers) add(x float64, q analysis.Quantile) {
	v := timing.of(q.Value)
	w.pts = append(w.pts, plotter.XY{X: x, Y: v})
	lo, hi := 0.0, 0.0
	if q.Lo != nil && q.Hi != nil {
		lo, hi = v-timing.of(*q.Lo), timing.of(*q.Hi)-v
	} else {
		w.bare = append(w.bare, plotter.XY{X: x, Y: v})
	}
	w.errs = append(w.errs, struct{ Low, High float64 }{lo, hi})
}

// bars returns the whiskers' error bars in colour c.
func (w *whiskers) bars(c color.Color) (*plotter.YErrorBars, error) {
	bars, err := plotter.NewYErrorBars(struct {
		plotter.XYer
		plotter.YErrorer
	}{w.pts, w.errs})
	if err != nil {
		return nil, err
	}
	bars.Color = c
	return bars, nil
}

// quantilePlots draws, per (scenario, phase, pass, concurrency, sweep
// point), TTFT quantiles with their interval whiskers, one series per
// arm. Points without an interval are hollow and the legend says why; the
// y axis turns logarithmic, and says so, when the values span more than a
// decade.
func quantilePlots(s *analysis.Summary) ([]namedPlot, error) {
	var labels []string
	for _, q := range s.Method.Quantiles {
		labels = append(labels, "p"+pct(q))
	}
	var out []namedPlot
	for _, groups := range cells(s.Groups) {
		k := groups[0]
		phase := plainPhase(k.Phase, k.Pass)
		title := fmt.Sprintf("TTFT percentiles, %s%% intervals: %s / %s / c%d", pct(s.Method.Confidence), k.Scenario, phase, k.Concurrency)
		name := fmt.Sprintf("ttft_quantiles_%s_%s_c%d", slug(k.Scenario), slug(phase), k.Concurrency)
		if k.Sweep != "" {
			title += " (" + k.Sweep + ")"
			name += "_" + slug(k.Sweep)
		}
		if k.Split != "" {
			title += " (" + k.Split + ")"
			name += "_" + slug(k.Split)
		}
		p := newPlot(title, "percentile", ttftLabel)
		p.Add(plotter.NewGrid())
		n, bare, lo, hi := 0, 0, math.Inf(1), 0.0
		for gi, g := range groups {
			m := ttftOf(g)
			if m == nil {
				continue
			}
			var w whiskers
			for qi, q := range m.Quantiles {
				w.add(float64(qi)+0.12*float64(gi)-0.06*float64(len(groups)-1), q)
			}
			if err := addWhiskers(p, &w, armColor(g.Arm, gi), fmt.Sprintf("%s (%d runs)", g.Arm, g.NRuns)); err != nil {
				return nil, err
			}
			for i, pt := range w.pts {
				lo, hi = math.Min(lo, pt.Y-w.errs[i].Low), math.Max(hi, pt.Y+w.errs[i].High)
			}
			bare += len(w.bare)
			n++
		}
		if n == 0 {
			continue
		}
		p.NominalX(labels...)
		p.X.Min, p.X.Max = -0.5, float64(len(labels))-0.5
		if lo > 0 && hi/lo > 10 {
			p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, logTicks{}
			p.Y.Label.Text = "TTFT (" + timing.word + ", log scale)"
			p.Y.Min, p.Y.Max = lo/1.2, hi*1.2
		} else {
			p.Y.Min, p.Y.Max = math.Max(0, lo-0.1*(hi-lo)), hi+0.1*(hi-lo)
		}
		if bare > 0 {
			p.Legend.Add("hollow: no interval")
			p.Legend.Add("(under 10 requests")
			p.Legend.Add(" beyond the percentile)")
		}
		out = append(out, namedPlot{p, name})
	}
	return out, nil
}

// addWhiskers adds one arm's points with their whiskers, drawing the
// points without an interval hollow.
func addWhiskers(p *plot.Plot, w *whiskers, c color.Color, label string) error {
	sc, err := plotter.NewScatter(w.pts)
	if err != nil {
		return err
	}
	sc.Color = c
	sc.GlyphStyle.Radius = vg.Points(3)
	sc.GlyphStyle.Shape = draw.CircleGlyph{}
	bars, err := w.bars(c)
	if err != nil {
		return err
	}
	p.Add(bars, sc)
	if len(w.bare) > 0 {
		hollow, err := plotter.NewScatter(w.bare)
		if err != nil {
			return err
		}
		hollow.GlyphStyle = draw.GlyphStyle{Color: color.White, Radius: vg.Points(2), Shape: draw.CircleGlyph{}}
		p.Add(hollow)
	}
	p.Legend.Add(label, sc)
	return nil
}

// plainPhase names a phase with its pass for plot titles: "reuse #2".
func plainPhase(phase string, pass int) string {
	if pass > 0 {
		return phase + " #" + itoa(pass)
	}
	return phase
}

// cells groups the groups by everything but the arm, in first-seen order.
func cells(groups []analysis.Group) [][]analysis.Group {
	type key struct {
		sc, ph string
		conc   int
		sweep  string
		split  string
	}
	idx := map[key]int{}
	var out [][]analysis.Group
	for _, g := range groups {
		k := key{g.Scenario, plainPhase(g.Phase, g.Pass), g.Concurrency, g.Sweep, g.Split}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], g)
	}
	return out
}

// timelinePlots draws TTFT over time per arm, every run of the arm
// overlaid, with the phases of its first run as bands.
func timelinePlots(s *analysis.Summary) ([]namedPlot, error) {
	var arms []string
	byArm := map[string][]analysis.Timeline{}
	for _, tl := range s.Timelines {
		if len(tl.OffsetNs) == 0 {
			continue
		}
		if _, ok := byArm[tl.Arm]; !ok {
			arms = append(arms, tl.Arm)
		}
		byArm[tl.Arm] = append(byArm[tl.Arm], tl)
	}
	var out []namedPlot
	for ai, arm := range arms {
		tls := byArm[arm]
		p := newPlot(fmt.Sprintf("TTFT over time: %s (%d runs overlaid)", arm, len(tls)), elapsedLabel, ttftLabel)
		ymax, top := timelineCap(tls)
		if err := bands(p, tls[0].Phases, ymax); err != nil {
			return nil, err
		}
		var above plotter.XYs
		for _, tl := range tls {
			pts := make(plotter.XYs, 0, len(tl.OffsetNs))
			for i := range tl.OffsetNs {
				pt := plotter.XY{X: elapsed.ofInt(tl.OffsetNs[i]), Y: timing.ofInt(tl.TTFTNs[i])}
				if pt.Y > ymax {
					above = append(above, plotter.XY{X: pt.X, Y: ymax})
					continue
				}
				pts = append(pts, pt)
			}
			sc, err := plotter.NewScatter(pts)
			if err != nil {
				return nil, err
			}
			sc.Color = armColor(arm, ai)
			sc.GlyphStyle.Radius = vg.Points(1.2)
			p.Add(sc)
		}
		if len(above) > 0 {
			sc, err := plotter.NewScatter(above)
			if err != nil {
				return nil, err
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: color.Black, Radius: vg.Points(3), Shape: draw.TriangleGlyph{}}
			p.Add(sc)
			p.Legend.Add(fmt.Sprintf("%d above the axis,", len(above)), sc)
			p.Legend.Add(fmt.Sprintf("up to %s %s", num(top), timing.word))
		}
		p.Legend.Add("shading: phases of")
		p.Legend.Add("the first run")
		p.Y.Min, p.Y.Max = 0, ymax*1.1
		out = append(out, namedPlot{p, "ttft_timeline_" + slug(arm)})
	}
	return out, nil
}

// timelineCap returns the top of a timeline's y axis, which leaves out
// rare outliers (above 1.5 times the 99th percentile) so they do not
// flatten everything else, and the largest TTFT.
func timelineCap(tls []analysis.Timeline) (cap, top float64) {
	var all []float64
	for _, tl := range tls {
		for _, v := range tl.TTFTNs {
			all = append(all, timing.ofInt(v))
		}
	}
	if len(all) == 0 {
		return 1, 0
	}
	slices.Sort(all)
	top = all[len(all)-1]
	cap = math.Min(top, 1.5*all[(len(all)-1)*99/100])
	if cap <= 0 {
		cap = 1
	}
	return cap, top
}

// sweepPlots draws the first and last reported TTFT quantiles (p50 and p99
// by default) against concurrency per arm, for every (scenario, phase)
// measured at two or more concurrencies.
func sweepPlots(s *analysis.Summary) ([]namedPlot, error) {
	qs := s.Method.Quantiles
	if len(qs) == 0 {
		return nil, nil
	}
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
	var out []namedPlot
	for _, k := range keys {
		if len(concs[k]) < 2 {
			continue
		}
		p := newPlot(fmt.Sprintf("TTFT vs concurrency: %s / %s", k.sc, k.ph), "concurrency", ttftLabel)
		p.Add(plotter.NewGrid())
		var arms []string
		for _, g := range s.Groups {
			if g.Scenario == k.sc && g.Phase == k.ph && !slices.Contains(arms, g.Arm) {
				arms = append(arms, g.Arm)
			}
		}
		for ai, arm := range arms {
			for qi, q := range []float64{qs[0], qs[len(qs)-1]} {
				if err := sweepLine(p, s.Groups, k.sc, k.ph, arm, q, armColor(arm, ai), qi == 1); err != nil {
					return nil, err
				}
			}
		}
		p.Legend.Top, p.Legend.Left = true, true
		out = append(out, namedPlot{p, "sweep_" + slug(k.sc) + "_" + slug(k.ph)})
	}
	return out, nil
}

// sweepLine adds one arm's quantile p over concurrency to a sweep plot.
func sweepLine(p *plot.Plot, groups []analysis.Group, scenario, phase, arm string, q float64, c color.Color, dash bool) error {
	var w whiskers
	for _, g := range groups {
		m := ttftOf(g)
		if g.Scenario != scenario || g.Phase != phase || g.Arm != arm || m == nil {
			continue
		}
		for _, e := range m.Quantiles {
			if e.P == q {
				w.add(float64(g.Concurrency), e)
			}
		}
	}
	if len(w.pts) == 0 {
		return nil
	}
	line, points, err := plotter.NewLinePoints(w.pts)
	if err != nil {
		return err
	}
	line.Color, points.Color = c, c
	if dash {
		line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	}
	bars, err := w.bars(c)
	if err != nil {
		return err
	}
	p.Add(line, points, bars)
	if len(w.bare) > 0 {
		hollow, err := plotter.NewScatter(w.bare)
		if err != nil {
			return err
		}
		hollow.GlyphStyle = draw.GlyphStyle{Color: color.White, Radius: vg.Points(1.5), Shape: draw.CircleGlyph{}}
		p.Add(hollow)
	}
	p.Legend.Add(fmt.Sprintf("%s p%s", arm, pct(q)), line)
	return nil
}

// ioPlots draws, for the first run of each arm that has telemetry, disk
// read/write throughput and KVBM counters over time with phase bands.
func ioPlots(s *analysis.Summary) ([]namedPlot, error) {
	var out []namedPlot
	done := map[string]bool{}
	for _, io := range s.IOSeries {
		if done[io.Arm] || (len(io.DiskRead) == 0 && len(io.Counters) == 0) {
			continue
		}
		done[io.Arm] = true
		if len(io.DiskRead) > 0 {
			p := newPlot(fmt.Sprintf("Disk throughput: %s (run %s)", io.Arm, io.RunID), elapsedLabel, byteRate.word+" (all sampled block devices)")
			err := seriesLines(p, io.Phases, byteRate, []series{
				{"read", io.DiskRead, color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, false},
				{"write", io.DiskWrite, color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, true}})
			if err != nil {
				return nil, err
			}
			out = append(out, namedPlot{p, "disk_" + slug(io.Arm)})
		}
		if len(io.Counters) > 0 {
			p := newPlot(fmt.Sprintf("KVBM counters: %s (run %s)", io.Arm, io.RunID), elapsedLabel, "blocks (cumulative)")
			var lines []series
			var idle []string
			for i, role := range slices.Sorted(maps.Keys(io.Counters)) {
				if role == results.KVBMMatched {
					continue // tokens, not blocks
				}
				if allZero(io.Counters[role]) {
					idle = append(idle, roleName(role))
					continue
				}
				c, ok := roleColors[role]
				if !ok {
					c = armColor("", i)
				}
				lines = append(lines, series{roleName(role), io.Counters[role], c, false})
			}
			if err := seriesLines(p, io.Phases, unit{div: 1}, lines); err != nil {
				return nil, err
			}
			if len(idle) > 0 {
				p.Legend.Add("zero throughout:")
				for _, name := range idle {
					p.Legend.Add("  " + name)
				}
			}
			out = append(out, namedPlot{p, "kvbm_" + slug(io.Arm)})
		}
	}
	return out, nil
}

// allZero reports whether a counter never moved.
func allZero(pts []analysis.Point) bool {
	for _, p := range pts {
		if p.V != 0 {
			return false
		}
	}
	return true
}

// series is one line of a time-series plot.
type series struct {
	name   string
	pts    []analysis.Point
	color  color.RGBA
	dashed bool
}

// seriesLines draws time series over phase bands, values shown in u.
func seriesLines(p *plot.Plot, phases []analysis.Span, u unit, lines []series) error {
	ymax := 1.0
	for _, l := range lines {
		for _, pt := range l.pts {
			ymax = math.Max(ymax, u.of(pt.V))
		}
	}
	if err := bands(p, phases, ymax); err != nil {
		return err
	}
	for _, l := range lines {
		xy := make(plotter.XYs, len(l.pts))
		for i, pt := range l.pts {
			xy[i] = plotter.XY{X: elapsed.ofInt(pt.OffsetNs), Y: u.of(pt.V)}
		}
		line, err := plotter.NewLine(xy)
		if err != nil {
			return err
		}
		line.Color = l.color
		line.Width = vg.Points(1.5)
		if l.dashed {
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		}
		p.Add(line)
		p.Legend.Add(l.name, line)
	}
	p.Y.Min = 0
	return nil
}

// bands shades each phase and labels it at the top.
func bands(p *plot.Plot, phases []analysis.Span, ymax float64) error {
	for i, ph := range phases {
		if ph.EndNs <= ph.StartNs {
			continue
		}
		shade := color.RGBA{R: 0xf0, G: 0xf0, B: 0xf0, A: 0xff}
		if i%2 == 1 {
			shade = color.RGBA{R: 0xdd, G: 0xe6, B: 0xf0, A: 0xff}
		}
		x0, x1 := elapsed.ofInt(ph.StartNs), elapsed.ofInt(ph.EndNs)
		band, err := plotter.NewPolygon(plotter.XYs{{X: x0, Y: 0}, {X: x1, Y: 0}, {X: x1, Y: ymax * 1.08}, {X: x0, Y: ymax * 1.08}})
		if err != nil {
			return err
		}
		band.Color = shade
		band.LineStyle.Width = 0
		lbl, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: x0, Y: ymax * 1.04}}, Labels: []string{ph.Name}})
		if err != nil {
			return err
		}
		p.Add(band, lbl)
	}
	return nil
}
