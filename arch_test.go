package kvbench_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestImportDirection checks the pipeline's layering (STYLE.md rule 1):
// results and stats import no project package; sim imports only results;
// capture never imports stats, ingest, analysis or report. On the analyze
// side each stage imports only the stage before it: ingest reads (results),
// analysis decides (ingest, stats), report renders (analysis), and
// cmd/analyze wires the three.
func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	allowed := map[string][]string{
		"kvbench/results":     {},
		"kvbench/stats":       {},
		"kvbench/sim":         {"kvbench/results"},
		"kvbench/capture":     {"kvbench/results"},
		"kvbench/ingest":      {"kvbench/results"},
		"kvbench/analysis":    {"kvbench/ingest", "kvbench/results", "kvbench/stats"},
		"kvbench/report":      {"kvbench/analysis", "kvbench/results", "kvbench/stats"},
		"kvbench/cmd/analyze": {"kvbench/ingest", "kvbench/analysis", "kvbench/report", "kvbench/internal/cli"},
	}
	seen := map[string]bool{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		seen[p.ImportPath] = true
		ok, ruled := allowed[p.ImportPath]
		if !ruled {
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, "kvbench/") {
				continue
			}
			if !contains(ok, imp) {
				t.Errorf("%s imports %s; allowed project imports: %v", p.ImportPath, imp, ok)
			}
		}
	}
	for pkg := range allowed {
		if !seen[pkg] {
			t.Errorf("package %s not found by go list", pkg)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
