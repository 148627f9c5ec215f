package capture

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"

	"kvbench/results"
)

// PhaseSummary is one phase of a finished bundle at a glance: requests,
// errors and the nearest-rank median and maximum TTFT of the successes.
type PhaseSummary struct {
	Phase    string   `json:"phase"`
	Requests int      `json:"requests"`
	Errors   int      `json:"errors"`
	TTFTP50  *float64 `json:"ttft_p50_ms"`
	TTFTMax  *float64 `json:"ttft_max_ms"`
}

// Summary writes a short per-phase table of a finished bundle's records.
// Note: these are nearest-rank figures for a glance at the terminal; the
// statistics a brief cites come from analyze.
func Summary(w io.Writer, dir string) error {
	phases, err := Summarize(dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%-16s %8s %7s %12s %12s\n", "PHASE", "REQUESTS", "ERRORS", "TTFT p50 ms", "TTFT max ms")
	for _, p := range phases {
		fmt.Fprintf(w, "%-16s %8d %7d %12s %12s\n", p.Phase, p.Requests, p.Errors, msOrDash(p.TTFTP50), msOrDash(p.TTFTMax))
	}
	return nil
}

func msOrDash(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.2f", *v)
}

// Summarize reads a finished bundle's requests into one PhaseSummary per
// phase, in the order phases first appear.
func Summarize(dir string) ([]PhaseSummary, error) {
	type acc struct {
		n, errs int
		ttft    []int64
	}
	byPhase := map[string]*acc{}
	var order []string
	// Stream the rows: only TTFTs are kept, so memory stays small however
	// long the run was.
	err := results.Scan(filepath.Join(dir, "requests.parquet"), results.TableRequests, 1024, func(rows []results.Request) error {
		for _, r := range rows {
			a := byPhase[r.Phase]
			if a == nil {
				a = &acc{}
				byPhase[r.Phase] = a
				order = append(order, r.Phase)
			}
			a.n++
			if r.ErrorKind != "" {
				a.errs++
			} else if r.TTFTNs != nil {
				a.ttft = append(a.ttft, *r.TTFTNs)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]PhaseSummary, 0, len(order))
	for _, p := range order {
		a := byPhase[p]
		sort.Slice(a.ttft, func(i, j int) bool { return a.ttft[i] < a.ttft[j] })
		ps := PhaseSummary{Phase: p, Requests: a.n, Errors: a.errs}
		if n := len(a.ttft); n > 0 {
			p50, mx := float64(a.ttft[(n-1)/2])/1e6, float64(a.ttft[n-1])/1e6
			ps.TTFTP50, ps.TTFTMax = &p50, &mx
		}
		out = append(out, ps)
	}
	return out, nil
}
