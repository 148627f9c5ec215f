package kvbench_test

import (
	"path/filepath"
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
// onboards, B2's replayed answers change and B1's (no disk tier) do not;
// with no corruption nothing changes.
func TestAnswerMatchCatchesCorruptDiskOnboard(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	capture, _ := binaries(t)
	res := t.TempDir()
	for _, c := range []struct {
		id, tier, kv, corrupt string
		wantChanged           bool
	}{
		{"b1_corrupt", "B1", "cpu_only", "0.3", false},
		{"b2_corrupt", "B2", "cpu_disk", "0.3", true},
		{"b2_clean", "B2", "cpu_disk", "0", false},
	} {
		compared, changed := answerChanges(integrityRun(t, capture, res, c.id, c.tier, c.kv, c.corrupt))
		t.Logf("%s: compared %v, changed %v", c.id, compared, changed)
		if compared[results.PhaseReplay] < 20 {
			t.Errorf("%s: %d replay answers compared; want the 40 replayed prompts (%v)", c.id, compared[results.PhaseReplay], compared)
		}
		total := 0
		for _, n := range changed {
			total += n
		}
		switch {
		case c.wantChanged && (changed[results.PhaseReplay] < 4 || changed[results.PhaseReplay] > 24):
			t.Errorf("%s: %d of %d replayed answers changed; want about 30%%", c.id, changed[results.PhaseReplay], compared[results.PhaseReplay])
		case !c.wantChanged && total > 0:
			t.Errorf("%s: %d answers changed (%v); want none", c.id, total, changed)
		}
	}
}
