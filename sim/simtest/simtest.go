// Package simtest starts the simulated target for tests: in this process
// (Start) or as the real `capture sim` binary (StartBinary). Either way it
// listens on free loopback ports and stops when the test ends. It sits next
// to sim, the stand-in for a Dynamo + KVBM server, and is imported by tests
// only.
package simtest

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"kvbench/sim"
)

// Start runs a simulator in this process with the fast preset on free
// loopback ports; edit, when not nil, changes the configuration first. The
// server is stopped when the test ends.
func Start(t testing.TB, edit func(*sim.Config)) *sim.Server {
	t.Helper()
	cfg := sim.DefaultConfig()
	cfg.APIAddr, cfg.KVBMAddr, cfg.SystemAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Costs, _ = sim.Preset(sim.PresetFast)
	if edit != nil {
		edit(&cfg)
	}
	srv, err := sim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return srv
}

// Listening is the first line `capture sim` prints: its bound addresses.
type Listening struct {
	Event string `json:"event"`
	sim.Addrs
}

// StartBinary runs `<capture> sim` with args on free loopback ports and
// returns its addresses and a function that stops it (SIGINT, then wait;
// safe to call more than once, and called when the test ends).
func StartBinary(t testing.TB, capture string, args ...string) (sim.Addrs, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	all := append([]string{"sim", "--listen", "127.0.0.1:0", "--kvbm-listen", "127.0.0.1:0", "--system-listen", "127.0.0.1:0"}, args...)
	cmd := exec.CommandContext(ctx, capture, all...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); cmd.Wait() }) }
	t.Cleanup(stop)
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		for sc.Scan() {
		}
	}()
	select {
	case line, ok := <-lines:
		if !ok {
			t.Fatalf("simulator exited without printing its addresses; stderr:\n%s", stderr.String())
		}
		var l Listening
		if err := json.Unmarshal([]byte(line), &l); err != nil || l.API == "" || l.Event != "listening" {
			t.Fatalf("first line of capture sim is not the address JSON: %q (%v)", line, err)
		}
		return l.Addrs, stop
	case <-time.After(20 * time.Second):
		t.Fatalf("simulator did not print its addresses in 20s; stderr:\n%s", stderr.String())
	}
	return sim.Addrs{}, stop
}
