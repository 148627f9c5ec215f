package kvbench_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestImportDirection checks the pipeline's layering (STYLE.md rule 1):
// results and stats import no project package; sim imports only results;
// on the capture side cmd/capture → campaign → capture →
// capture/telemetry → results, and none of them imports stats, report or
// ingest; report never imports capture or ingest.
func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	allowed := map[string][]string{
		"kvbench/results":           {},
		"kvbench/stats":             {},
		"kvbench/sim":               {"kvbench/results"},
		"kvbench/capture/telemetry": {"kvbench/results"},
		"kvbench/capture":           {"kvbench/capture/telemetry", "kvbench/results"},
		"kvbench/campaign":          {"kvbench/capture", "kvbench/results"},
		"kvbench/cmd/capture":       {"kvbench/capture", "kvbench/campaign", "kvbench/capture/telemetry", "kvbench/sim", "kvbench/internal/cli"},
		"kvbench/report":            {"kvbench/results", "kvbench/stats"},
		"kvbench/ingest":            {"kvbench/results", "kvbench/stats", "kvbench/report"},
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
