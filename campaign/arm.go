package campaign

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"kvbench/capture"
	"kvbench/results"
)

// server is a long-running process started for an arm.
type server struct {
	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File
	// announced holds the addresses a server printed as a JSON object on
	// its first output line (as `capture sim` does): "api", "kvbm",
	// "system". The campaign points the arm's runs at them.
	announced map[string]string
}

func (s *server) stop() {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	s.log.Close()
}

func (s *server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// command builds an exec.Cmd for an arm command: an argument list, or
// /bin/sh -c when the plan sets shell: true. {capture} stands for exe.
// A background command outlives ctx (the campaign stops it itself).
func command(ctx context.Context, args []string, arm *ArmSpec, exe string, background bool) (*exec.Cmd, error) {
	if len(args) == 0 {
		return nil, errors.New("empty command")
	}
	if exe == "" {
		exe, _ = os.Executable()
	}
	a := make([]string, len(args))
	for i, s := range args {
		a[i] = strings.ReplaceAll(s, "{capture}", exe)
	}
	if arm.Shell {
		a = []string{"/bin/sh", "-c", strings.Join(a, " ")}
	}
	if background {
		ctx = context.WithoutCancel(ctx)
	}
	cmd := exec.CommandContext(ctx, a[0], a[1:]...)
	cmd.Env = os.Environ()
	for _, k := range slices.Sorted(maps.Keys(arm.Env)) {
		cmd.Env = append(cmd.Env, k+"="+arm.Env[k])
	}
	return cmd, nil
}

// runOnce runs a one-shot arm command (switch, flush) with its output in
// logPath.
func runOnce(ctx context.Context, args []string, arm *ArmSpec, exe, logPath string) error {
	cmd, err := command(ctx, args, arm, exe, false)
	if err != nil {
		return err
	}
	f, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w (output in %s)", strings.Join(args, " "), err, logPath)
	}
	return nil
}

// switchArm puts the server in the arm's mode and waits until it serves.
func switchArm(ctx context.Context, p *Plan, arm *ArmSpec, baseURL, exe string, block int) (*server, error) {
	logPath := filepath.Join(p.Dir(), "logs", fmt.Sprintf("%s-block%d.log", arm.Name, block+1))
	var srv *server
	switch {
	case len(arm.Start) > 0:
		var err error
		if srv, err = startServer(ctx, arm, exe, logPath); err != nil {
			return nil, err
		}
		if a := srv.announced["api"]; a != "" {
			baseURL = "http://" + a
		}
	case len(arm.Switch) > 0:
		if err := runOnce(ctx, arm.Switch, arm, exe, logPath); err != nil {
			return nil, fmt.Errorf("switch: %w", err)
		}
	}
	timeout := time.Duration(arm.Ready.TimeoutS * float64(time.Second))
	if timeout == 0 {
		timeout = 120 * time.Second
	}
	if err := waitReady(ctx, arm, baseURL, timeout, srv); err != nil {
		return srv, fmt.Errorf("%w (server log: %s)", err, logPath)
	}
	if arm.Cooldown > 0 {
		sleep(ctx, time.Duration(arm.Cooldown*float64(time.Second)))
	}
	return srv, nil
}

// startServer starts the arm's server with its output in logPath and
// reads the addresses it announces on its first line (waiting at most ten
// seconds for it).
func startServer(ctx context.Context, arm *ArmSpec, exe, logPath string) (*server, error) {
	cmd, err := command(ctx, arm.Start, arm, exe, true)
	if err != nil {
		return nil, err
	}
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stderr = f
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		f.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", arm.Start[0], err)
	}
	srv := &server{cmd: cmd, done: make(chan struct{}), log: f}
	first := make(chan string, 1)
	go func() {
		// Copy the server's output to its log; hand the first line over.
		br := bufio.NewReader(stdout)
		line, _ := br.ReadString('\n')
		f.WriteString(line)
		first <- line
		io.Copy(f, br)
	}()
	go func() { cmd.Wait(); close(srv.done) }()
	select {
	case line := <-first:
		var ann map[string]any
		if json.Unmarshal([]byte(line), &ann) == nil {
			srv.announced = map[string]string{}
			for k, v := range ann {
				if s, ok := v.(string); ok {
					srv.announced[k] = s
				}
			}
		}
	case <-time.After(10 * time.Second):
	case <-srv.done:
	}
	return srv, nil
}

// waitReady polls the health endpoint and the model list, then sends one
// smoke completion.
func waitReady(ctx context.Context, arm *ArmSpec, baseURL string, timeout time.Duration, srv *server) error {
	deadline := time.Now().Add(timeout)
	health := arm.Ready.HealthURL
	if health == "" {
		health = strings.TrimRight(baseURL, "/") + "/health"
	}
	c := capture.NewClient(capture.ClientOptions{BaseURL: baseURL, Concurrency: 1, RequestTimeout: 30 * time.Second})
	defer c.Close()
	for {
		if srv != nil && srv.exited() {
			return fmt.Errorf("server exited before it was ready")
		}
		last := probeReady(ctx, c, health)
		if last == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s: %v", timeout, last)
		}
		sleep(ctx, 200*time.Millisecond)
	}
	if arm.Ready.Smoke != nil && !*arm.Ready.Smoke {
		return nil
	}
	ids, err := c.Models(ctx)
	if err != nil || len(ids) == 0 {
		return fmt.Errorf("smoke: no model listed: %v", err)
	}
	var rec results.Request
	c.Complete(ctx, ctx, &capture.CompletionRequest{Model: ids[0], Prompt: "kvbench readiness check", MaxTokens: 1, TopP: 1}, "campaign-smoke", false, &rec)
	if rec.ErrorKind != "" {
		return fmt.Errorf("smoke completion failed: %s", rec.Error)
	}
	return nil
}

// probeReady: the health route answers 200 (or 404: a server without
// one is judged by its model list alone) and a model is listed.
func probeReady(ctx context.Context, c *capture.Client, health string) error {
	if health != "none" {
		status, err := c.Probe(ctx, health)
		if err != nil {
			return err
		}
		if status != http.StatusOK && status != http.StatusNotFound {
			return fmt.Errorf("%s: HTTP %d", health, status)
		}
	}
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ids, err := c.Models(actx)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return errors.New("no model registered yet")
	}
	return nil
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
