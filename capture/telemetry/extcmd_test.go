package telemetry

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The test binary doubles as the external tools (docker, nvme, smartctl,
// nvidia-smi, ...): Commands runs it with argv[0] set to the tool's name
// and KVBENCH_FAKE_TOOLS pointing at testdata.
const fakeToolsEnv = "KVBENCH_FAKE_TOOLS"

func TestMain(m *testing.M) {
	if dir := os.Getenv(fakeToolsEnv); dir != "" {
		os.Exit(fakeTool(dir, filepath.Base(os.Args[0]), os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fakeTool(dir, name string, args []string) int {
	fixture := func(rel string) int {
		b, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		os.Stdout.Write(b)
		return 0
	}
	has := func(s string) bool {
		for _, a := range args {
			if a == s {
				return true
			}
		}
		return false
	}
	switch name {
	case "docker", "podman":
		switch {
		case len(args) == 4 && args[0] == "inspect":
			if args[3] != "dyn" {
				fmt.Fprintf(os.Stderr, "Error: No such object: %s\n", args[3])
				return 1
			}
			fmt.Println(os.Getenv("KVBENCH_FAKE_PID"))
			return 0
		case len(args) > 0 && args[0] == "logs":
			fmt.Printf("2026-02-08T12:00:00Z %s started\n", args[len(args)-1])
			fmt.Fprintf(os.Stderr, "2026-02-08T12:00:01Z %s warning on stderr\n", args[len(args)-1])
			return 0
		case len(args) > 2 && args[0] == "exec" && args[2] == "find":
			fmt.Println("/workspace/cufile.log")
			return 0
		case len(args) > 2 && args[0] == "exec" && args[2] == "cat":
			if args[len(args)-1] == "/workspace/cufile.log" {
				fmt.Println(" 08-02-2026 12:00:01:123 [pid=77 tid=77] NOTICE  cufio-drv:693 running in compatible mode")
				return 0
			}
			fmt.Fprintf(os.Stderr, "cat: %s: No such file or directory\n", args[len(args)-1])
			return 1
		}
	case "nvme":
		if os.Getenv("KVBENCH_FAKE_NVME_FAIL") != "" {
			fmt.Fprintln(os.Stderr, "open /dev/nvme0n1: Permission denied")
			return 1
		}
		switch {
		case has("id-ctrl"):
			return fixture("nvme/id-ctrl.json")
		case has("smart-log"):
			return fixture("nvme/smart-log.json")
		}
	case "smartctl":
		fixture("nvme/smartctl.json")
		return 4 // bit 2: some SMART command failed; the JSON is still good
	case "nvidia-smi":
		if fixture("gpu/nvidia-smi.csv") != 0 {
			return 2
		}
		time.Sleep(time.Minute) // -lms runs until killed
		return 0
	case "echoargs":
		for _, a := range args {
			fmt.Println(a)
		}
		return 0
	case "fail":
		fmt.Fprintln(os.Stderr, "boom")
		return 3
	case "sleeper":
		time.Sleep(time.Minute)
		return 0
	}
	fmt.Fprintf(os.Stderr, "fake %s: unexpected args %q\n", name, args)
	return 2
}

// fakeCommands returns Commands whose tools are the test binary; names not
// in tools are "not installed".
func fakeCommands(t *testing.T, tools ...string) *Commands {
	t.Helper()
	td, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(fakeToolsEnv, td)
	// Under -race every process sleeps 1s at exit unless told otherwise.
	t.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return &Commands{LookPath: func(name string) (string, error) {
		for _, n := range tools {
			if n == name {
				return self, nil
			}
		}
		return "", exec.ErrNotFound
	}}
}

// TestCommandsRun checks literal arguments, exit codes, timeouts, missing
// tools, output caps and the command log.
// Note: one sequence of cases sharing one fake tool directory and one log.
func TestCommandsRun(t *testing.T) {
	cmds := fakeCommands(t, "echoargs", "fail", "sleeper")
	ctx := context.Background()
	dir := t.TempDir()
	marker := filepath.Join(dir, "injected")

	// Shell metacharacters stay one literal argument: nothing runs them.
	evil := "dyn; touch " + marker + " $(touch " + marker + ")"
	res, err := cmds.Run(ctx, 0, 0, "echoargs", "inspect", evil)
	if err != nil {
		t.Fatalf("echoargs: %v", err)
	}
	if got, want := string(res.Stdout), "inspect\n"+evil+"\n"; got != want {
		t.Errorf("echoargs printed %q; want %q", got, want)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("%s exists: an argument was run as a command", marker)
	}

	res, err = cmds.Run(ctx, 0, 0, "fail")
	if err == nil || res.ExitCode != 3 || !strings.Contains(res.Stderr, "boom") {
		t.Errorf("fail: err %v, exit %d, stderr %q; want an error, exit 3, stderr boom", err, res.ExitCode, res.Stderr)
	}

	start := time.Now()
	_, err = cmds.Run(ctx, 200*time.Millisecond, 0, "sleeper")
	if err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("sleeper: err %v after %s; want a timeout error within the timeout", err, time.Since(start))
	}

	_, err = cmds.Run(ctx, 0, 0, "nvme", "list")
	if !errors.Is(err, ErrToolMissing) {
		t.Errorf("missing tool: err %v; want ErrToolMissing", err)
	}

	res, _ = cmds.Run(ctx, 0, 5, "echoargs", "0123456789")
	if string(res.Stdout) != "01234" || !res.Truncated {
		t.Errorf("capped stdout %q truncated %v; want \"01234\" true", res.Stdout, res.Truncated)
	}

	// The log has one record per run, with exit status and stderr.
	if err := cmds.WriteLog(dir); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, CommandsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []CmdRecord
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r CmdRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("commands.jsonl line %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	if len(recs) != 5 {
		t.Fatalf("%d command records; want 5", len(recs))
	}
	checks := []struct {
		argv0    string
		exit     int
		timedOut bool
		errSub   string
	}{
		{"echoargs", 0, false, ""},
		{"fail", 3, false, "exit status 3"},
		{"sleeper", -1, true, "timed out"},
		{"nvme", -1, false, "not installed"},
		{"echoargs", 0, false, ""},
	}
	for i, c := range checks {
		r := recs[i]
		if r.Argv[0] != c.argv0 || r.ExitCode != c.exit || r.TimedOut != c.timedOut || !strings.Contains(r.Error, c.errSub) {
			t.Errorf("record %d = %+v; want argv0 %s exit %d timed_out %v error containing %q", i, r, c.argv0, c.exit, c.timedOut, c.errSub)
		}
	}
	if recs[1].Stderr != "boom\n" {
		t.Errorf("record of fail: stderr %q; want \"boom\\n\"", recs[1].Stderr)
	}
}

func TestValidContainerName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"dyn", true},
		{"bench-nats", true},
		{"dynamo_trtllm.1", true},
		{"3f9c1b2a7d4e", true},
		{"", false},
		{"-f", false},
		{"--help", false},
		{"dyn;rm -rf /", false},
		{"dyn$(id)", false},
		{"a b", false},
		{"../etc", false},
		{"dyn\n", false},
	} {
		if got := ValidContainerName(tc.name); got != tc.ok {
			t.Errorf("ValidContainerName(%q) = %v; want %v", tc.name, got, tc.ok)
		}
	}
}

func TestContainerPID(t *testing.T) {
	t.Setenv("KVBENCH_FAKE_PID", "4242")
	for _, tc := range []struct {
		name    string
		tools   []string
		ctr     string
		wantPID int
		wantRT  string
		wantErr string
	}{
		{"docker", []string{"docker", "podman"}, "dyn", 4242, "docker", ""},
		{"podman fallback", []string{"podman"}, "dyn", 4242, "podman", ""},
		{"no runtime", nil, "dyn", 0, "", "not installed"},
		{"unknown container", []string{"docker"}, "nope", 0, "", "No such object"},
		{"option-like name refused", []string{"docker"}, "--help", 0, "", "not valid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmds := fakeCommands(t, tc.tools...)
			pid, rt, err := ContainerPID(context.Background(), cmds, tc.ctr)
			if pid != tc.wantPID || rt != tc.wantRT {
				t.Errorf("ContainerPID(%q) = %d, %q; want %d, %q", tc.ctr, pid, rt, tc.wantPID, tc.wantRT)
			}
			if (err == nil) != (tc.wantErr == "") || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ContainerPID(%q) error %v; want containing %q", tc.ctr, err, tc.wantErr)
			}
		})
	}
}

// TestCommandsInterrupt checks that cancelling the run's context stops a
// command in flight, and that the log collector then skips its commands.
func TestCommandsInterrupt(t *testing.T) {
	cmds := fakeCommands(t, "nvidia-smi", "docker")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	if _, err := cmds.Run(ctx, time.Minute, 0, "nvidia-smi"); err == nil {
		t.Error("interrupted command: no error")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("command ran %v after the interrupt; want it stopped", d)
	}
	l, err := NewLogSampler(LogOptions{Container: "dyn", Commands: cmds})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Open(ctx, t.TempDir(), "r"); err != nil {
		t.Fatal(err)
	}
	rep := l.Close()
	if len(cmds.Records()) != 1 || len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "interrupted") {
		t.Errorf("after the interrupt: %d commands, warnings %v; want no new command and one warning", len(cmds.Records()), rep.Warnings)
	}
}
