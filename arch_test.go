package kvbench_test

import (
	"encoding/json"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
)

// layers is the pipeline's import graph (ARCHITECTURE.md): for each
// package, the project packages it may import. Each package is one stage;
// results and stats are leaves every stage may lean on, except that
// capture-side packages never import stats and nothing imports cmd/....
var layers = map[string][]string{
	"kvbench/results":           {},
	"kvbench/stats":             {},
	"kvbench/sim":               {},
	"kvbench/internal/cli":      {},
	"kvbench/sim/simtest":       {"kvbench/sim"},
	"kvbench/capture/telemetry": {"kvbench/results"},
	"kvbench/capture":           {"kvbench/capture/telemetry", "kvbench/results"},
	"kvbench/campaign":          {"kvbench/capture", "kvbench/results"},
	"kvbench/ingest":            {"kvbench/results"},
	"kvbench/analysis":          {"kvbench/ingest", "kvbench/stats", "kvbench/results"},
	"kvbench/report":            {"kvbench/analysis", "kvbench/stats", "kvbench/results"},
	"kvbench/cmd/capture": {"kvbench/capture", "kvbench/campaign", "kvbench/capture/telemetry", "kvbench/sim",
		"kvbench/results", "kvbench/internal/cli"},
	"kvbench/cmd/analyze": {"kvbench/ingest", "kvbench/analysis", "kvbench/report", "kvbench/results", "kvbench/internal/cli"},
}

// TestImportDirection checks every package's project imports against
// layers, and that every package has a rule (a new package must say where
// it sits).
func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := map[string]bool{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
			Name       string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if p.ImportPath == "kvbench" {
			continue // the root holds only tests
		}
		seen[p.ImportPath] = true
		ok, ruled := layers[p.ImportPath]
		if !ruled {
			t.Errorf("package %s has no rule in arch_test.go's layers (and no place in ARCHITECTURE.md)", p.ImportPath)
			continue
		}
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, "kvbench/") && !slices.Contains(ok, imp) {
				t.Errorf("%s imports %s; allowed project imports: %v", p.ImportPath, imp, ok)
			}
		}
	}
	var missing []string
	for pkg := range layers {
		if !seen[pkg] {
			missing = append(missing, pkg)
		}
	}
	sort.Strings(missing)
	for _, pkg := range missing {
		t.Errorf("package %s not found by go list", pkg)
	}
}
