package kvbench_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"kvbench/results"
)

// integrityRun runs rehydrate_replay against a simulator in kvMode whose
// disk onboards answer from wrong KV with probability corrupt, and returns
// the requests of the run.
func integrityRun(t *testing.T, capture, res, id, tier, kvMode, corrupt string) []results.Request {
	t.Helper()
	a := startSim(t, capture, "--kv-mode", kvMode, "--preset", "fast", "--gpu-blocks", "256", "--cpu-blocks", "512",
		"--disk-blocks", "16384", "--corrupt-disk-onboard", corrupt)
	runCmd(t, 0, capture, "run", "--base-url", "http://"+a.API, "--tier-mode", tier, "--scenario", "rehydrate_replay",
		"--long-range", "1000:2000", "--warmup", "0", "--max-tokens", "8", "--stream",
		"--rehydrate-populate-requests", "40", "--rehydrate-thrash-requests", "48",
		"--metrics-kvbm-url", "http://"+a.KVBM+"/metrics", "--no-progress", "--results-dir", res, "--run-id", id)
	rows, err := results.ReadAll[results.Request](filepath.Join(res, id, "requests.parquet"), results.TableRequests)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// answerChanges counts, per phase, the repeated requests whose answer was
// compared with the first answer, and those that changed.
func answerChanges(rows []results.Request) (compared, changed map[string]int) {
	compared, changed = map[string]int{}, map[string]int{}
	for _, r := range rows {
		if r.AnswerMatch == nil {
			continue
		}
		compared[r.Phase]++
		if !*r.AnswerMatch {
			changed[r.Phase]++
		}
	}
	return compared, changed
}

// TestAnswerMatchCatchesCorruptDiskOnboard: with wrong KV on 30% of disk
// onboards in B2 (and the same setting in B1, which has no disk tier),
// B2's replayed answers change, B1's do not, and analyze reports an
// integrity finding on B2; with no corruption in either arm, nothing
// changes and there is no finding.
func TestAnswerMatchCatchesCorruptDiskOnboard(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	capture, analyze := binaries(t)
	for _, corrupt := range []string{"0.3", "0"} {
		res := t.TempDir()
		for _, c := range []struct{ id, tier, kv string }{{"b1", "B1", "cpu_only"}, {"b2", "B2", "cpu_disk"}} {
			compared, changed := answerChanges(integrityRun(t, capture, res, c.id, c.tier, c.kv, corrupt))
			t.Logf("corrupt %s, %s: compared %v, changed %v", corrupt, c.id, compared, changed)
			if compared[results.PhaseReplay] < 20 {
				t.Errorf("corrupt %s, %s: %d replay answers compared; want the 40 replayed prompts", corrupt, c.id, compared[results.PhaseReplay])
			}
			n := changed[results.PhaseReplay]
			switch {
			case corrupt != "0" && c.tier == "B2" && (n < 4 || n > 24):
				t.Errorf("corrupt %s, %s: %d of %d replayed answers changed; want about 30%%", corrupt, c.id, n, compared[results.PhaseReplay])
			case (corrupt == "0" || c.tier == "B1") && len(changed) > 0:
				t.Errorf("corrupt %s, %s: answers changed (%v); want none", corrupt, c.id, changed)
			}
		}
		out := filepath.Join(t.TempDir(), "report")
		runCmd(t, 0, analyze, "report", res, "--out", out)
		var sum struct {
			Integrity struct {
				Finding bool
				Arms    []struct {
					Arm               string
					Compared, Changed int
				}
			}
			Comparisons []struct{ Flags []string }
		}
		js, err := os.ReadFile(filepath.Join(out, "summary.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(js, &sum); err != nil {
			t.Fatal(err)
		}
		md, _ := os.ReadFile(filepath.Join(out, "report.md"))
		want := corrupt != "0"
		if sum.Integrity.Finding != want || strings.Contains(string(md), "sign of wrong KV") != want {
			t.Errorf("corrupt %s: integrity finding %v (arms %+v); want %v", corrupt, sum.Integrity.Finding, sum.Integrity.Arms, want)
		}
		if want && (len(sum.Comparisons) == 0 || !slices.Contains(sum.Comparisons[0].Flags, "KV_INTEGRITY")) {
			t.Errorf("corrupt %s: comparisons not flagged KV_INTEGRITY", corrupt)
		}
	}
}
