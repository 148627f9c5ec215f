package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kvbench/internal/cli"
	"kvbench/results"
	"kvbench/sim"
	"kvbench/sim/simtest"
)

// capture runs the command with args and returns its exit code, stdout
// and stderr.
func captureRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := captureRun(t, "--version")
	if code != cli.ExitOK || !strings.Contains(out, results.Version) {
		t.Errorf("--version: exit %d, %q", code, out)
	}
}

// TestHealthJSON: health takes the metrics flags run takes (the
// dedicated URLs and NAME=URL), durations in either spelling, and --json
// prints one object with every check.
func TestHealthJSON(t *testing.T) {
	a := simtest.Start(t, nil).Addrs()
	for _, timeout := range [][]string{{"--timeout", "2s"}, {"--timeout", "2"}, {"--timeout-s", "2"}} {
		args := append([]string{"health", "--base-url", "http://" + a.API, "--metrics-kvbm-url", "http://" + a.KVBM + "/metrics",
			"--metrics-url", "worker=http://" + a.System + "/metrics", "--json"}, timeout...)
		code, out, errs := captureRun(t, args...)
		if code != cli.ExitOK {
			t.Fatalf("%v: exit %d: %s", timeout, code, errs)
		}
		var got struct {
			OK     bool
			Failed int
			Checks []struct{ Name, Status string }
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("not one JSON object: %v\n%s", err, out)
		}
		names := map[string]string{}
		for _, c := range got.Checks {
			names[c.Name] = c.Status
		}
		if !got.OK || names["kvbm metrics"] != "ok" || names["worker metrics"] != "ok" {
			t.Errorf("%v: %s", timeout, out)
		}
	}
	code, _, errs := captureRun(t, "health", "--metrics-url", "nourl", "--json")
	if code != cli.ExitUsage || !strings.Contains(errs, "want NAME=URL") {
		t.Errorf("bad --metrics-url: exit %d %q", code, errs)
	}
	_, help, _ := captureRun(t, "health", "--help")
	if strings.Contains(help, "default 6880") {
		t.Errorf("health --help promises a default it does not apply:\n%s", help)
	}
}

// TestInventoryFlags: inventory takes the same metrics flags as run and
// health, and --json.
func TestInventoryFlags(t *testing.T) {
	a := simtest.Start(t, nil).Addrs()
	code, out, errs := captureRun(t, "inventory", "--metrics-kvbm-url", "http://"+a.KVBM+"/metrics",
		"--metrics-url", "worker=http://"+a.System+"/metrics", "--timeout-s", "3", "--json")
	if code != cli.ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var got struct {
		Endpoints []struct {
			Name     string
			Families []struct{ KVBM bool }
		}
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(got.Endpoints) != 2 || got.Endpoints[0].Name != "kvbm" || got.Endpoints[1].Name != "worker" || len(got.Endpoints[0].Families) == 0 {
		t.Errorf("endpoints: %s", out)
	}
	code, out, _ = captureRun(t, "inventory", "--metrics-kvbm-url", "http://"+a.KVBM+"/metrics")
	if code != cli.ExitOK || !strings.Contains(out, "FAMILY") {
		t.Errorf("text inventory: exit %d\n%s", code, out)
	}
	code, _, errs = captureRun(t, "inventory")
	if code != cli.ExitUsage || !strings.Contains(errs, "--metrics-kvbm-url") {
		t.Errorf("no endpoint: exit %d %q", code, errs)
	}
}

func TestSmokeJSON(t *testing.T) {
	a := simtest.Start(t, nil).Addrs()
	code, out, errs := captureRun(t, "smoke", "--base-url", "http://"+a.API, "--request-timeout-s", "10", "--json")
	if code != cli.ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var got struct {
		Model    string
		OK       bool
		Requests []struct {
			Stream bool
			TTFTMs *float64 `json:"ttft_ms"`
		}
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got.Model != sim.DefaultModel || !got.OK || len(got.Requests) != 2 || !got.Requests[0].Stream || got.Requests[0].TTFTMs == nil {
		t.Errorf("smoke json: %s", out)
	}
}

// TestRunJSONAndOldSpellings runs against the simulator with the old
// "-s"/"-ms" spellings of the time flags and --json: the summary is one
// JSON object and the manifest records the durations under their names.
func TestRunJSONAndOldSpellings(t *testing.T) {
	a := simtest.Start(t, nil).Addrs()
	res := t.TempDir()
	code, out, errs := captureRun(t, "run", "--tier-mode", "B1", "--base-url", "http://"+a.API, "--requests", "4", "--warmup", "1",
		"--max-tokens", "4", "--calibrate=false", "--no-progress", "--run-id", "j", "--results-dir", res, "--json",
		"--request-timeout-s", "30", "--model-resolve-timeout-s", "3", "--model-resolve-poll-s", "0.5", "--max-schedule-lag-ms", "250",
		"--copilot-think-ms", "20", "--metrics-interval", "2")
	if code != cli.ExitOK {
		t.Fatalf("exit %d: %s\n%s", code, errs, out)
	}
	var got runSummary
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out)
	}
	if !got.Valid || got.RunID != "j" || len(got.Phases) != 2 || got.Phases[1].Requests != 4 {
		t.Errorf("summary: %+v", got)
	}
	m, err := results.ReadManifest(filepath.Join(res, "j"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"request-timeout": "30s", "model-resolve-timeout": "3s", "model-resolve-poll": "500ms",
		"max-schedule-lag": "250ms", "copilot-think": "20ms", "metrics-interval": "2s", "stream": "true"}
	for k, v := range want {
		if m.Config[k] != v {
			t.Errorf("manifest config %s = %q; want %q", k, m.Config[k], v)
		}
	}
	if _, ok := m.Config["request-timeout-s"]; ok {
		t.Errorf("manifest records the hidden alias request-timeout-s")
	}
}

func TestDurationFlagErrors(t *testing.T) {
	code, _, errs := captureRun(t, "run", "--tier-mode", "B1", "--request-timeout", "soon")
	if code != cli.ExitUsage || !strings.Contains(errs, "not a duration") {
		t.Errorf("exit %d %q", code, errs)
	}
	_, help, _ := captureRun(t, "run", "--help")
	if strings.Contains(help, "request-timeout-s") || !strings.Contains(help, "--request-timeout duration") {
		t.Errorf("run --help should show --request-timeout and hide request-timeout-s")
	}
}

// TestCompletion: enum flags complete to their values; plan arguments to
// YAML files.
func TestCompletion(t *testing.T) {
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"run", "--scenario", ""}, []string{"standard", "rehydrate_replay"}},
		{[]string{"run", "--kv-mode", ""}, []string{"off", "cpu_only", "cpu_disk"}},
		{[]string{"run", "--tier-mode", ""}, []string{"B0", "B1", "B2"}},
		{[]string{"run", "--prompt-set", ""}, []string{"short", "long", "mixed"}},
		{[]string{"sim", "--preset", ""}, []string{sim.PresetFast}},
		{[]string{"campaign", ""}, []string{"yaml", "yml", ":8"}},
		{[]string{"campaign", "validate", ""}, []string{"yaml", "yml", ":8"}},
	}
	for _, c := range cases {
		code, out, errs := captureRun(t, append([]string{"__complete"}, c.args...)...)
		if code != cli.ExitOK {
			t.Fatalf("%v: exit %d %s", c.args, code, errs)
		}
		lines := strings.Split(out, "\n")
		for _, w := range c.want {
			found := false
			for _, l := range lines {
				found = found || strings.SplitN(l, "\t", 2)[0] == w
			}
			if !found {
				t.Errorf("%v: %q not offered:\n%s", c.args, w, out)
			}
		}
	}
}

// TestCampaignValidateMany: every plan is checked and reported; one bad
// plan makes the exit non-zero.
func TestCampaignValidateMany(t *testing.T) {
	dir := t.TempDir()
	good := "arms:\n  - name: B1\n    start: [\"{capture}\", \"sim\"]\nrun:\n  requests: 4\n  copilot-think-ms: 20\n  request-timeout-s: 30\n"
	os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(good), 0o644)
	os.WriteFile(filepath.Join(dir, "b.yml"), []byte(good), 0o644)
	os.WriteFile(filepath.Join(dir, "c.yaml"), []byte("repetitons: 3\n"+good), 0o644)
	ab := []string{"campaign", "validate", filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yml")}
	code, out, errs := captureRun(t, ab...)
	if code != cli.ExitOK || strings.Count(out, "is valid") != 2 {
		t.Errorf("two good plans: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = captureRun(t, append(ab, filepath.Join(dir, "c.yaml"))...)
	if code != cli.ExitUsage || strings.Count(out, "is valid") != 2 || !strings.Contains(errs, "c.yaml") || !strings.Contains(errs, "1 of 3 plans") {
		t.Errorf("one bad plan: exit %d\n%s%s", code, out, errs)
	}
}

// TestResultsDirMessages: a results directory that cannot be used says
// why, before anything is sent.
func TestResultsDirMessages(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, []byte("x"), 0o644)
	cases := []struct{ dir, want string }{
		{blocker, blocker + " is a file, not a directory"},
		{filepath.Join(blocker, "sub"), blocker + " is a file, not a directory"},
	}
	if _, err := os.Stat("/proc/self"); err == nil {
		cases = append(cases, struct{ dir, want string }{"/proc", "takes no new files"})
	}
	for _, c := range cases {
		code, _, errs := captureRun(t, "run", "--tier-mode", "B1", "--model", "m", "--base-url", "http://"+freeAddr(t), "--results-dir", c.dir)
		if code != cli.ExitFailure || !strings.Contains(errs, c.want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("--results-dir %s: exit %d %q; want one line with %q", c.dir, code, errs, c.want)
		}
	}
}

// TestPlanErrorMessages: a plan error names the key and its line,
// suggests the nearest valid key and never names a Go type.
func TestPlanErrorMessages(t *testing.T) {
	arm := "arms:\n  - name: B1\n    start: [\"{capture}\", \"sim\"]\n"
	cases := []struct{ plan, want string }{
		{"repetitons: 3\n" + arm, `line 1: unknown key "repetitons" in the plan; did you mean "repetitions"?`},
		{arm + "    tier_mod: B1\n", `line 4: unknown key "tier_mod" in an arm; did you mean "tier_mode"?`},
		{arm + "    ready: {timout_s: 3}\n", `line 4: unknown key "timout_s" in an arm's ready; did you mean "timeout_s"?`},
		{arm + "run:\n  reqests: 4\n", `line 5: unknown run flag "reqests" (run keys are capture run's flag names); did you mean "requests"?`},
		{arm + "sweep:\n  - flag: concurency\n    values: [1, 2]\n", `did you mean "concurrency"?`},
		{"repetitions: many\n" + arm, `line 1: "many" is not valid here: want a whole number`},
		{"arms: 3\n", `line 1: "3" is not valid here: want a list`},
		{arm + "    cooldown: soon\n", `arm B1: cooldown: "soon" is not a duration`},
	}
	for _, c := range cases {
		path := filepath.Join(t.TempDir(), "p.yaml")
		os.WriteFile(path, []byte(c.plan), 0o644)
		code, _, errs := captureRun(t, "campaign", "validate", path)
		if code != cli.ExitUsage || !strings.Contains(errs, c.want) {
			t.Errorf("plan %q: exit %d %q; want %q", c.plan, code, errs, c.want)
		}
		if strings.Contains(errs, "campaign.") || strings.Contains(errs, "type ") {
			t.Errorf("plan error names a Go type: %q", errs)
		}
	}
}

// TestDurationFlag: --duration is for the standard scenario, takes a Go
// duration or seconds, and makes --requests 0 mean no cap.
func TestDurationFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--scenario", "eviction_replay", "--duration", "10m"}, cli.ExitUsage, "only the standard scenario"},
		{[]string{"--duration", "-5"}, cli.ExitUsage, "must not be negative"},
		{[]string{"--duration", "ten"}, cli.ExitUsage, "not a duration"},
		{[]string{"--requests", "0"}, cli.ExitUsage, "--requests 0"},
		{[]string{"--duration", "90", "--requests", "3", "--dry-run", "--calibrate=false"}, cli.ExitOK, "for 1m30s (requests: the cap)"},
	} {
		code, out, errs := captureRun(t, append([]string{"run", "--tier-mode", "B1"}, c.args...)...)
		if code != c.code || !strings.Contains(out+errs, c.want) {
			t.Errorf("%v: exit %d %q; want %d and %q", c.args, code, errs, c.code, c.want)
		}
	}
}
