// Package report is the rendering stage of analyze (ingest reads →
// analysis decides → report renders): it writes an analysis.Summary as
// report.md (Markdown), summary.json (JSON) and plots (PNG and SVG). It
// decides nothing and is a pure function of the summary: no clock, no map
// iteration order, fixed number formats, so the same summary always gives
// the same bytes. The summary holds base units; this package alone scales
// them for display (units.go).
package report

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"kvbench/analysis"
)

// Write renders the summary into dir: report.md, summary.json and plots/,
// and lists them in OutManifest. It returns the path of report.md. What
// an earlier report wrote into dir is removed first; a directory holding
// anything else is refused (ErrNotOurs).
func Write(dir string, s *analysis.Summary) (string, error) {
	return WriteWith(dir, s, WriteOptions{})
}

// WriteOptions change how Write treats the output directory.
type WriteOptions struct {
	// Force writes into a directory that holds files no report of ours
	// wrote; they are left alone.
	Force bool
}

// WriteWith is Write with options.
func WriteWith(dir string, s *analysis.Summary, opt WriteOptions) (string, error) {
	if err := prepareOut(dir, opt.Force); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Join(dir, "plots"), 0o755); err != nil {
		return "", fmt.Errorf("output directory %s: %w", dir, err)
	}
	plots, err := WritePlots(filepath.Join(dir, "plots"), s)
	if err != nil {
		return "", err
	}
	var md, js bytes.Buffer
	if err := Markdown(&md, s, plots...); err != nil {
		return "", err
	}
	if err := JSON(&js, s); err != nil {
		return "", fmt.Errorf("encode summary: %w", err)
	}
	written := []string{"report.md", "summary.json"}
	for _, p := range plots {
		written = append(written, p.PNG, p.SVG)
	}
	mdPath := filepath.Join(dir, "report.md")
	for _, f := range []struct {
		path string
		data []byte
	}{{mdPath, md.Bytes()}, {filepath.Join(dir, "summary.json"), js.Bytes()}} {
		if err := os.WriteFile(f.path, f.data, 0o644); err != nil {
			return "", fmt.Errorf("write %s: %w", f.path, err)
		}
	}
	if err := writeOutManifest(dir, s.Tool, written); err != nil {
		return "", err
	}
	return mdPath, nil
}

// PlotRef is a plot written next to the report.
type PlotRef struct {
	Title string
	PNG   string // path relative to the report
	SVG   string
}
