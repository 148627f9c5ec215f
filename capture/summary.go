package capture

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"

	"kvbench/results"
)

// Summary writes a short per-phase table of a finished bundle's records.
// Note: these are nearest-rank figures for a glance at the terminal; the
// statistics a brief cites come from analyze.
func Summary(w io.Writer, dir string) error {
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
		return err
	}
	fmt.Fprintf(w, "%-16s %8s %7s %12s %12s\n", "PHASE", "REQUESTS", "ERRORS", "TTFT p50 ms", "TTFT max ms")
	for _, p := range order {
		a := byPhase[p]
		sort.Slice(a.ttft, func(i, j int) bool { return a.ttft[i] < a.ttft[j] })
		p50, mx := "-", "-"
		if n := len(a.ttft); n > 0 {
			p50 = fmt.Sprintf("%.2f", float64(a.ttft[(n-1)/2])/1e6)
			mx = fmt.Sprintf("%.2f", float64(a.ttft[n-1])/1e6)
		}
		fmt.Fprintf(w, "%-16s %8d %7d %12s %12s\n", p, a.n, a.errs, p50, mx)
	}
	return nil
}
