package campaign

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"kvbench/capture"
	"kvbench/results"
)

const planYAML = `
campaign: t1
results_dir: RESULTS
seed: 7
repetitions: 4
run:
  scenario: rehydrate_replay
  stop: ["<|eot_id|>", "###"]
sweep:
  - flag: rehydrate-replay-concurrency
    values: [1, 2, 4]
arms:
  - name: B1
    start: ["{capture}", "sim", "--kv-mode", "cpu_only"]
  - name: B2
    switch: ["restart-worker.sh", "cpu_disk"]
`

func loadTestPlan(t *testing.T, text string) *Plan {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "plan.yaml")
	os.WriteFile(path, []byte(strings.ReplaceAll(text, "RESULTS", filepath.Join(dir, "res"))), 0o644)
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestScheduleInterleaved checks the interleaved order: blocks, ABBA arm
// order, determinism, run ids and rotated seeds.
// Note: each property is checked on the same 24-run schedule.
func TestScheduleInterleaved(t *testing.T) {
	p := loadTestPlan(t, planYAML)
	runs := p.Schedule()
	if len(runs) != 2*3*4 {
		t.Fatalf("runs = %d; want 24", len(runs))
	}
	// Each block visits each arm once, with all sweep points together; odd
	// blocks reverse the arm order of the block before (ABBA).
	var armSeq []string
	for b := 0; b < 4; b++ {
		var arms []string
		pts := map[string]map[string]bool{}
		for _, r := range runs {
			if r.Block != b {
				continue
			}
			if len(arms) == 0 || arms[len(arms)-1] != r.Arm.Name {
				arms = append(arms, r.Arm.Name)
			}
			if pts[r.Arm.Name] == nil {
				pts[r.Arm.Name] = map[string]bool{}
			}
			pts[r.Arm.Name][r.Flags.Get("rehydrate-replay-concurrency")] = true
			if r.Repetition != b {
				t.Errorf("run %s: repetition %d in block %d", r.RunID, r.Repetition, b)
			}
		}
		if len(arms) != 2 || arms[0] == arms[1] {
			t.Fatalf("block %d arm visits %v; want each arm once", b, arms)
		}
		for arm, set := range pts {
			if len(set) != 3 {
				t.Errorf("block %d arm %s sweep points %v", b, arm, set)
			}
		}
		armSeq = append(armSeq, arms...)
	}
	for b := 1; b < 4; b += 2 {
		if armSeq[2*b] != armSeq[2*b-1] {
			t.Errorf("block %d does not start with the arm that ended block %d: %v", b, b-1, armSeq)
		}
	}
	// Deterministic for a seed; different for another seed somewhere.
	again := loadTestPlan(t, planYAML).Schedule()
	other := loadTestPlan(t, strings.Replace(planYAML, "seed: 7", "seed: 8", 1)).Schedule()
	same, diff := true, false
	for i := range runs {
		if runs[i].RunID != again[i].RunID {
			same = false
		}
		if runs[i].RunID != other[i].RunID {
			diff = true
		}
	}
	if !same || !diff {
		t.Errorf("schedule deterministic=%v, seed-dependent=%v", same, diff)
	}
	// Run ids are unique and carry the coordinates.
	ids := map[string]bool{}
	for _, r := range runs {
		if ids[r.RunID] {
			t.Errorf("duplicate run id %s", r.RunID)
		}
		ids[r.RunID] = true
	}
	if !ids["t1_B2_rrc4_r3"] {
		t.Errorf("run ids %v lack t1_B2_rrc4_r3", ids)
	}
	// Seeds rotate per repetition and sweep point, paired across arms.
	seeds := map[string]string{}
	for _, r := range runs {
		k := r.Flags.Get("rehydrate-replay-concurrency") + "/" + strconv.Itoa(r.Repetition)
		if s, ok := seeds[k]; ok && s != r.Flags.Get("request-seed") {
			t.Errorf("arms differ in seed at %s: %s vs %s", k, s, r.Flags.Get("request-seed"))
		}
		seeds[k] = r.Flags.Get("request-seed")
	}
	distinct := map[string]bool{}
	for _, s := range seeds {
		distinct[s] = true
	}
	if len(distinct) != 12 {
		t.Errorf("%d distinct seeds for 12 (point, repetition) pairs", len(distinct))
	}
	r := runs[0]
	if r.Flags.Get("tier-mode") != r.Arm.TierMode || r.Flags.Get("scenario") != capture.ScenarioRehydrateReplay ||
		!slices.Equal(r.Flags["stop"], []string{"<|eot_id|>", "###"}) || r.Flags.Get("run-id") != r.RunID {
		t.Errorf("flags %v", r.Flags)
	}
}

func TestScheduleSequential(t *testing.T) {
	p := loadTestPlan(t, strings.Replace(planYAML, "seed: 7", "seed: 7\norder: sequential", 1))
	runs := p.Schedule()
	for i, r := range runs {
		want := "B1"
		if i >= 12 {
			want = "B2"
		}
		if r.Arm.Name != want {
			t.Fatalf("run %d arm %s; want %s", i, r.Arm.Name, want)
		}
	}
}

func TestCampaignPlanErrors(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"unknown key", "campaign: x\narms: [{name: B1}]\nrepetitons: 3\n", "repetitons"},
		{"unknown arm key", "campaign: x\narms: [{name: B1, swich: [a]}]\n", "swich"},
		{"no arms", "campaign: x\n", "no arms"},
		{"bad tier", "campaign: x\narms: [{name: B7}]\n", "unknown tier mode"},
		{"both", "campaign: x\narms: [{name: B1, start: [a], switch: [b]}]\n", "not both"},
		{"order", "campaign: x\norder: random\narms: [{name: B1}]\n", "order"},
		{"reserved", "campaign: x\nrun: {run-id: y}\narms: [{name: B1}]\n", "run-id"},
		{"bad id", "campaign: ../x\narms: [{name: B1}]\n", "campaign id"},
		{"dup arm", "campaign: x\narms: [{name: B1}, {name: B1}]\n", "duplicate"},
		{"empty", "", "empty plan"},
		{"list sweep value", "campaign: x\nsweep: [{flag: stop, values: [[a, b]]}]\narms: [{name: B1}]\n", "is a list"},
		{"negative retries", "campaign: x\narms: [{name: B1, retries: -1}]\n", "retries"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "p.yaml")
			os.WriteFile(path, []byte(c.yaml), 0o644)
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Load = %v; want error containing %q", err, c.want)
			}
		})
	}
}

func TestResolveStatus(t *testing.T) {
	p := loadTestPlan(t, planYAML)
	runs := p.Schedule()
	good := filepath.Join(p.Dir(), runs[0].RunID)
	os.MkdirAll(good, 0o755)
	results.WriteManifest(good, &results.Manifest{RunID: runs[0].RunID, Valid: true})
	bad := filepath.Join(p.Dir(), runs[1].RunID)
	os.MkdirAll(bad, 0o755)
	results.WriteManifest(bad, &results.Manifest{RunID: runs[1].RunID, Valid: false})
	os.MkdirAll(filepath.Join(p.Dir(), runs[2].RunID), 0o755) // no manifest
	ResolveStatus(p, runs)
	want := []string{StatusDone, StatusRedo, StatusRedo, StatusPending}
	for i, w := range want {
		if runs[i].Status != w {
			t.Errorf("run %d status %s; want %s", i, runs[i].Status, w)
		}
	}
	if err := supersede(p.Dir(), runs[1].RunID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Errorf("earlier attempt still in place")
	}
	moved, _ := filepath.Glob(filepath.Join(p.Dir(), ".superseded", runs[1].RunID+".*", "manifest.json"))
	if len(moved) != 1 {
		t.Errorf("earlier attempt not kept under .superseded: %v", moved)
	}
}

func TestPlanWarnings(t *testing.T) {
	p := loadTestPlan(t, `
campaign: w
results_dir: RESULTS
repetitions: 2
arms:
  - {name: B0, switch: [restart]}
  - {name: B1, switch: [restart]}
  - {name: B2, switch: [restart], run: {metrics-kvbm-url: "http://127.0.0.1:6880/metrics"}}
  - {name: B2sim, tier_mode: B2, start: ["{capture}", sim]}
`)
	w := p.Warnings(p.Schedule())
	if len(w) != 1 || !strings.Contains(w[0], "arm B1 (B1) sets no metrics-kvbm-url") || !strings.Contains(w[0], "6880") {
		t.Errorf("warnings %q; want one, for arm B1", w)
	}
}

// TestArmDurations: cooldown and ready.timeout take Go durations or
// seconds; the old cooldown_s and timeout_s keys keep working.
func TestArmDurations(t *testing.T) {
	for _, c := range []struct {
		arm               string
		cooldown, timeout float64
	}{
		{"cooldown: 1m30s\n    ready: {timeout: 10m}", 90, 600},
		{"cooldown: 5\n    ready: {timeout: 2.5}", 5, 2.5},
		{"cooldown_s: 7\n    ready: {timeout_s: 60}", 7, 60},
	} {
		p := loadTestPlan(t, "arms:\n  - name: B1\n    "+c.arm+"\n")
		if a := p.Arms[0]; a.Cooldown != c.cooldown || a.Ready.TimeoutS != c.timeout {
			t.Errorf("%q: cooldown %g timeout %g", c.arm, a.Cooldown, a.Ready.TimeoutS)
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "p.yaml")
	os.WriteFile(path, []byte("arms:\n  - name: B1\n    cooldown: soon\n"), 0o644)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "arm B1: cooldown:") {
		t.Errorf("bad cooldown: %v", err)
	}
}
