package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kvbench/internal/cli"
	"kvbench/results"
)

// writeRuns writes n small valid bundles per arm (B1, B2) under root.
func writeRuns(t *testing.T, root, prefix string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		for _, arm := range []string{"B1", "B2"} {
			id := fmt.Sprintf("%s_%s_r%d", prefix, arm, i)
			dir := filepath.Join(root, id)
			os.MkdirAll(dir, 0o755)
			_, kv, _ := results.ResolveModes(arm, "")
			w, err := results.NewTableWriter[results.Request](dir, results.TableRequests, 0)
			if err != nil {
				t.Fatal(err)
			}
			start := int64(1_800_000_000_000_000_000) + int64(i)*1e12
			for k := 0; k < 30; k++ {
				w.Write(results.Request{RunID: id, Scenario: "standard", TierMode: arm, KVMode: kv, Phase: results.PhaseMeasure,
					RequestIndex: int64(k), Concurrency: 1, StartUnixNs: start + int64(k)*1e7,
					TTFTNs: results.Ptr(int64(5e6 + k*1e5)), LatencyNs: 2e7})
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			m := &results.Manifest{RunID: id, Scenario: "standard", TierMode: arm, KVMode: kv, Valid: true, StartedUnixNs: start,
				Tables: map[string]results.TableInfo{results.TableRequests: w.Info()}}
			if err := results.WriteManifest(dir, m); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// analyze runs the command and returns its exit code, stdout and stderr.
func analyze(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestReportOut: a second report into the same --out replaces the first
// (plots it no longer writes are removed); a directory with files analyze
// did not write is refused unless --force, which leaves them alone.
func TestReportOut(t *testing.T) {
	runs := t.TempDir()
	writeRuns(t, runs, "a", 1)
	out := filepath.Join(t.TempDir(), "report")
	if code, _, errs := analyze("report", runs, "--out", out); code != 0 {
		t.Fatalf("first report: exit %d: %s", code, errs)
	}
	stale := filepath.Join(out, "plots", "kvbm_b2.png") // as an earlier report with telemetry left it
	os.WriteFile(stale, []byte("png"), 0o644)
	if code, _, errs := analyze("report", runs, "--out", out); code != 0 {
		t.Fatalf("second report: exit %d: %s", code, errs)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("an earlier report's plot was left behind: %v", err)
	}

	foreign := t.TempDir()
	notes := filepath.Join(foreign, "notes.md")
	os.WriteFile(notes, []byte("mine"), 0o644)
	code, _, errs := analyze("report", runs, "--out", foreign)
	if code != cli.ExitUsage || !strings.Contains(errs, "--force") || !strings.Contains(errs, "notes.md") {
		t.Errorf("report into a foreign directory: exit %d, stderr %q; want usage naming notes.md and --force", code, errs)
	}
	if code, _, errs := analyze("report", runs, "--out", foreign, "--force"); code != 0 {
		t.Fatalf("--force: exit %d: %s", code, errs)
	}
	if _, err := os.Stat(notes); err != nil {
		t.Errorf("--force removed a file analyze did not write: %v", err)
	}
	if _, err := os.Stat(filepath.Join(foreign, "report.md")); err != nil {
		t.Errorf("--force wrote no report: %v", err)
	}
}

// TestExportAppend: export refuses a non-empty destination unless
// --append, and says how many runs the dataset holds.
func TestExportAppend(t *testing.T) {
	first, second := t.TempDir(), t.TempDir()
	writeRuns(t, first, "a", 1)  // 2 runs
	writeRuns(t, second, "b", 2) // 4 runs
	out := filepath.Join(t.TempDir(), "dataset")
	code, stdout, errs := analyze("export", first, "--out", out)
	if code != 0 || !strings.Contains(stdout, "exported 2 runs") || !strings.Contains(stdout, "now holds 2 runs") {
		t.Fatalf("export: exit %d, stdout %q, stderr %q", code, stdout, errs)
	}
	code, _, errs = analyze("export", second, "--out", out)
	if code != cli.ExitUsage || !strings.Contains(errs, "--append") {
		t.Errorf("export into a non-empty directory: exit %d, stderr %q; want usage naming --append", code, errs)
	}
	code, stdout, errs = analyze("export", second, "--out", out, "--append")
	if code != 0 || !strings.Contains(stdout, "exported 4 runs") || !strings.Contains(stdout, "now holds 6 runs") {
		t.Errorf("--append: exit %d, stdout %q, stderr %q", code, stdout, errs)
	}
}
