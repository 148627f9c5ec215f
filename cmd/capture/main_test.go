package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"kvbench/capture"
	"kvbench/internal/cli"
	"kvbench/results"
	"kvbench/sim"
	"kvbench/sim/simtest"
)

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	ln.Close()
	return a
}

func TestBadInput(t *testing.T) {
	dead := "http://" + freeAddr(t)
	ro := t.TempDir()
	os.Chmod(ro, 0o500)
	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, []byte("x"), 0o644)
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown scenario", []string{"run", "--tier-mode", "B1", "--scenario", "nope"}, cli.ExitUsage, `unknown scenario "nope"`},
		{"unknown prompt set", []string{"run", "--tier-mode", "B1", "--prompt-set", "huge"}, cli.ExitUsage, `unknown prompt set "huge"`},
		{"long range syntax", []string{"run", "--tier-mode", "B1", "--long-range", "6000"}, cli.ExitUsage, "--long-range"},
		{"long range order", []string{"run", "--tier-mode", "B1", "--long-range", "7600:6000"}, cli.ExitUsage, "greater than MAX"},
		{"mode conflict", []string{"run", "--tier-mode", "B2", "--kv-mode", "cpu_only"}, cli.ExitUsage, "tier mode B2 means kv mode cpu_disk"},
		{"no mode", []string{"run"}, cli.ExitUsage, "--tier-mode"},
		{"unknown flag", []string{"run", "--bogus"}, cli.ExitUsage, "unknown flag"},
		{"dead base url", []string{"run", "--tier-mode", "B1", "--base-url", dead, "--model-resolve-timeout-s", "0.3",
			"--model-resolve-poll-s", "0.1", "--results-dir", t.TempDir()}, cli.ExitFailure, "does not answer: connection refused"},
		{"bad base url", []string{"run", "--tier-mode", "B1", "--base-url", "localhost:8000"}, cli.ExitUsage, "want http://"},
		{"bad run id", []string{"run", "--tier-mode", "B1", "--run-id", "../x"}, cli.ExitUsage, "plain directory name"},
		{"negative requests", []string{"run", "--tier-mode", "B1", "--requests", "0"}, cli.ExitUsage, "--requests 0"},
	}
	if os.Geteuid() != 0 { // root can write anywhere
		cases = append(cases, struct {
			name string
			args []string
			code int
			want string
		}{"read-only results dir", []string{"run", "--tier-mode", "B1", "--results-dir", ro, "--base-url", "http://" + freeAddr(t), "--model", "m"}, cli.ExitFailure, "results directory"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), c.args, &out, &errb)
			if code != c.code {
				t.Errorf("exit %d; want %d (stderr %q)", code, c.code, errb.String())
			}
			lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], c.want) {
				t.Errorf("stderr %q; want one line containing %q", errb.String(), c.want)
			}
			if strings.Contains(errb.String(), "goroutine") {
				t.Errorf("stack trace on stderr")
			}
		})
	}
}

func TestResultsDirIsAFile(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, []byte("x"), 0o644)
	// Needs a live server to get past model resolution: use the simulator
	// in-process through the sim command is heavy; a --model and a server
	// that answers /v1/models with 404 suffices.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"))
			c.Close()
		}
	}()
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"run", "--tier-mode", "B1", "--model", "m", "--base-url", "http://" + ln.Addr().String(),
		"--results-dir", blocker}, &out, &errb)
	if code != cli.ExitFailure || !strings.Contains(errb.String(), "results directory "+blocker) {
		t.Errorf("exit %d stderr %q", code, errb.String())
	}
}

func TestDryRunEveryScenario(t *testing.T) {
	for _, sc := range capture.Scenarios {
		t.Run(sc, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := []string{"run", "--tier-mode", "B2", "--scenario", sc, "--dry-run", "--warmup", "2"}
			if sc == capture.ScenarioTrace {
				args = append(args, "--trace", filepath.Join("..", "..", "examples", "trace-demo.jsonl"), "--trace-block-tokens", "256")
			}
			code := run(context.Background(), args, &out, &errb)
			if code != cli.ExitOK {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			if !strings.Contains(out.String(), "scenario "+sc) || !strings.Contains(out.String(), results.PhaseWarmup) {
				t.Errorf("dry-run output:\n%s", out.String())
			}
		})
	}
}

// TestDryRunPrintsWhatIsSent runs the same flags twice against the
// in-process simulator, once with --dry-run, and checks that the prompts
// the dry run lists (id, size, SHA-256 of the bytes, identity hash) are
// exactly the prompts table and schedule of the real run.
func TestDryRunPrintsWhatIsSent(t *testing.T) {
	a := simtest.Start(t, nil).Addrs()
	res := t.TempDir()
	args := []string{"run", "--tier-mode", "B2", "--base-url", "http://" + a.API, "--model", sim.DefaultModel,
		"--scenario", capture.ScenarioEvictionReplay, "--eviction-a-requests", "3", "--eviction-b-requests", "4", "--warmup", "2",
		"--long-range", "100:300", "--max-tokens", "4", "--stop", "###", "--calibrate=false", "--no-progress",
		"--run-id", "same", "--results-dir", res}
	var dry, errb bytes.Buffer
	if code := run(context.Background(), append(args, "--dry-run"), &dry, &errb); code != cli.ExitOK {
		t.Fatalf("dry run: exit %d: %s", code, errb.String())
	}
	listed := dryRunPrompts(t, dry.String())
	var out bytes.Buffer
	if code := run(context.Background(), args, &out, &errb); code != cli.ExitOK {
		t.Fatalf("run: exit %d: %s\n%s", code, errb.String(), out.String())
	}
	dir := filepath.Join(res, "same")
	prompts, err := results.ReadAll[results.PromptRow](filepath.Join(dir, "prompts.parquet"), results.TablePrompts)
	if err != nil {
		t.Fatal(err)
	}
	sched, err := results.ReadAll[results.ScheduleRow](filepath.Join(dir, "schedule.parquet"), results.TableSchedule)
	if err != nil {
		t.Fatal(err)
	}
	sent := map[string][4]string{}
	for _, p := range prompts {
		sent[p.PromptID] = [4]string{strconv.FormatInt(p.TargetTokens, 10), strconv.FormatInt(p.Words, 10), p.PromptSHA256, ""}
	}
	for _, s := range sched {
		v := sent[s.PromptID]
		v[3] = s.IdentityHash
		sent[s.PromptID] = v
	}
	if len(listed) != 2+3+4 {
		t.Errorf("dry run lists %d prompts; want 9", len(listed))
	}
	if diff := cmp.Diff(sent, listed); diff != "" {
		t.Errorf("prompts sent (-) vs listed by --dry-run (+):\n%s", diff)
	}

	var cal bytes.Buffer
	calArgs := []string{"run", "--tier-mode", "B2", "--requests", "2", "--dry-run"}
	if code := run(context.Background(), calArgs, &cal, &errb); code != cli.ExitOK {
		t.Fatalf("dry run: exit %d: %s", code, errb.String())
	}
	if !strings.Contains(cal.String(), "will be calibrated against the server first") {
		t.Errorf("dry run with calibration does not say so:\n%s", cal.String())
	}
}

// dryRunPrompts reads the prompt table of a dry run: prompt id → target
// tokens, words, prompt SHA-256, identity hash.
func dryRunPrompts(t *testing.T, out string) map[string][4]string {
	t.Helper()
	_, table, ok := strings.Cut(out, "PROMPT ID")
	if !ok {
		t.Fatalf("no prompt table in dry-run output:\n%s", out)
	}
	m := map[string][4]string{}
	for _, line := range strings.Split(strings.TrimSpace(table), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) != 6 {
			t.Fatalf("prompt line %q: %d fields", line, len(f))
		}
		m[f[0]] = [4]string{f[2], f[3], f[4], f[5]}
	}
	return m
}
