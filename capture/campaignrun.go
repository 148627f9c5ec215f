package capture

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"kvbench/results"
)

// CampaignHooks connects a campaign to the command line.
type CampaignHooks struct {
	// BuildConfig turns resolved `capture run` flags into a configuration.
	BuildConfig func(flags map[string]string) (*Config, error)
	// Executable replaces the placeholder {capture} in arm commands, so a
	// plan can start `{capture} sim ...` without knowing where it lives.
	Executable string
	Log        io.Writer
	Progress   Progress
	// HasFlag reports whether `capture run` has a flag, so addresses a
	// server announces (metrics ports) are passed only where they fit.
	HasFlag func(name string) bool
}

// CampaignResult summarises a campaign invocation.
type CampaignResult struct {
	Runs        []CampaignRun
	Invalid     int
	Interrupted bool
}

// RunCampaign executes the schedule: it switches the server between arms,
// waits for readiness, and runs each scheduled capture as a normal run
// bundle under the campaign directory. Runs with a complete, valid bundle
// are skipped (resume); any other bundle already there is moved to
// .superseded/ (never deleted) and run again.
func RunCampaign(ctx context.Context, p *CampaignPlan, runs []CampaignRun, h CampaignHooks) (*CampaignResult, error) {
	if h.Log == nil {
		h.Log = io.Discard
	}
	dir := p.Dir()
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		return nil, fmt.Errorf("campaign directory %s: %w", dir, unwrapPath(err))
	}
	ResolveStatus(p, runs)
	res := &CampaignResult{Runs: runs}
	var srv *server
	var current *ArmSpec
	defer func() { srv.stop() }()
	var runErr error
	for i := range runs {
		r := &runs[i]
		if r.Status == StatusDone {
			fmt.Fprintf(h.Log, "campaign: %d/%d %s: complete bundle found, skipped\n", i+1, len(runs), r.RunID)
			continue
		}
		if ctx.Err() != nil {
			break
		}
		if r.Arm != current {
			srv.stop()
			srv = nil
			current = nil
			fmt.Fprintf(h.Log, "campaign: switching to arm %s\n", r.Arm.Name)
			base, err := h.BuildConfig(r.Flags)
			if err != nil {
				return res, fmt.Errorf("run %s: %w", r.RunID, err)
			}
			s, err := switchArm(ctx, p, r.Arm, base.BaseURL, h, r.Block)
			srv = s
			if err != nil {
				if ctx.Err() != nil {
					break
				}
				runErr = fmt.Errorf("arm %s: %w", r.Arm.Name, err)
				break
			}
			current = r.Arm
		}
		flags := r.Flags
		if srv != nil && len(srv.announced) > 0 {
			flags = announcedFlags(flags, srv.announced, r.Arm, h.HasFlag)
		}
		cfg, err := h.BuildConfig(flags)
		if err != nil {
			return res, fmt.Errorf("run %s: %w", r.RunID, err)
		}
		if r.Status == StatusRedo {
			if err := supersede(dir, r.RunID); err != nil {
				return res, err
			}
		}
		if len(r.Arm.Flush) > 0 {
			if err := runOnce(ctx, r.Arm.Flush, r.Arm, h, filepath.Join(dir, "logs", "flush-"+r.RunID+".log")); err != nil {
				runErr = fmt.Errorf("arm %s: flush before %s: %w", r.Arm.Name, r.RunID, err)
				break
			}
		}
		cfg.RunID = r.RunID
		cfg.ResultsDir = dir
		cfg.Campaign = &results.CampaignRef{ID: p.Campaign, Arm: r.Arm.Name, Repetition: r.Repetition + 1,
			Position: r.Position + 1, SweepPoint: r.SweepMap()}
		fmt.Fprintf(h.Log, "campaign: %d/%d %s (arm %s, repetition %d)\n", i+1, len(runs), r.RunID, r.Arm.Name, r.Repetition+1)
		out, err := Run(ctx, cfg, h.Log, h.Progress)
		if err != nil {
			runErr = fmt.Errorf("run %s: %w", r.RunID, err)
			break
		}
		r.Status = StatusCompleted
		if out.Interrupted {
			res.Interrupted = true
			break
		}
		if !out.Manifest.Valid {
			res.Invalid++
			fmt.Fprintf(h.Log, "campaign: %s is INVALID: %s\n", r.RunID, strings.Join(out.Manifest.InvalidReasons, "; "))
		}
	}
	if ctx.Err() != nil {
		res.Interrupted = true
	}
	if err := writeCampaignIndex(p, runs); err != nil && runErr == nil {
		runErr = err
	}
	return res, runErr
}

// supersede moves an earlier attempt of a run out of the way.
func supersede(dir, runID string) error {
	aside := filepath.Join(dir, ".superseded")
	if err := os.MkdirAll(aside, 0o755); err != nil {
		return err
	}
	dst := filepath.Join(aside, runID+"."+time.Now().UTC().Format("20060102T150405.000000000Z"))
	if err := os.Rename(filepath.Join(dir, runID), dst); err != nil {
		return fmt.Errorf("move earlier attempt of %s aside: %w", runID, err)
	}
	return nil
}

// campaignIndex is campaign.json: the schedule and what happened.
type campaignIndex struct {
	Campaign string              `json:"campaign"`
	Order    string              `json:"order"`
	Seed     uint64              `json:"seed"`
	Runs     []campaignIndexItem `json:"runs"`
}

type campaignIndexItem struct {
	Position   int               `json:"position"`
	Block      int               `json:"block"`
	Arm        string            `json:"arm"`
	TierMode   string            `json:"tier_mode"`
	Repetition int               `json:"repetition"`
	Scenario   string            `json:"scenario"`
	Sweep      map[string]string `json:"sweep,omitempty"`
	RunID      string            `json:"run_id"`
	Status     string            `json:"status"`
}

func writeCampaignIndex(p *CampaignPlan, runs []CampaignRun) error {
	idx := campaignIndex{Campaign: p.Campaign, Order: p.Order, Seed: p.Seed}
	for _, r := range runs {
		idx.Runs = append(idx.Runs, campaignIndexItem{Position: r.Position + 1, Block: r.Block + 1, Arm: r.Arm.Name,
			TierMode: r.Arm.TierMode, Repetition: r.Repetition + 1, Scenario: r.Scenario, Sweep: r.SweepMap(),
			RunID: r.RunID, Status: r.Status})
	}
	data, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	return results.WriteFileAtomic(filepath.Join(p.Dir(), "campaign.json"), append(data, '\n'))
}

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

// announcedFlags points a run at the addresses its server announced,
// unless the plan set the flag explicitly for the arm.
func announcedFlags(flags map[string]string, ann map[string]string, arm *ArmSpec, hasFlag func(string) bool) map[string]string {
	out := make(map[string]string, len(flags)+3)
	for k, v := range flags {
		out[k] = v
	}
	set := func(flag, value string) {
		if _, explicit := arm.Run[flag]; !explicit && value != "" {
			out[flag] = value
		}
	}
	if a := ann["api"]; a != "" {
		set("base-url", "http://"+a)
	}
	for key, flag := range map[string]string{"kvbm": "metrics-kvbm-url", "system": "metrics-system-url", "api": "metrics-frontend-url"} {
		if a := ann[key]; a != "" {
			if hasFlag != nil && hasFlag(flag) {
				set(flag, "http://"+a+"/metrics")
			}
		}
	}
	return out
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
// /bin/sh -c when the plan sets shell: true.
func command(ctx context.Context, args []string, arm *ArmSpec, h CampaignHooks, background bool) (*exec.Cmd, error) {
	if len(args) == 0 {
		return nil, errors.New("empty command")
	}
	exe := h.Executable
	if exe == "" {
		exe, _ = os.Executable()
	}
	a := make([]string, len(args))
	for i, s := range args {
		a[i] = strings.ReplaceAll(s, "{capture}", exe)
	}
	var cmd *exec.Cmd
	switch {
	case arm.Shell:
		a = []string{"/bin/sh", "-c", strings.Join(a, " ")}
	}
	if background {
		cmd = exec.Command(a[0], a[1:]...)
	} else {
		cmd = exec.CommandContext(ctx, a[0], a[1:]...)
	}
	cmd.Env = os.Environ()
	for _, k := range sortedKeys(arm.Env) {
		cmd.Env = append(cmd.Env, k+"="+arm.Env[k])
	}
	return cmd, nil
}

func runOnce(ctx context.Context, args []string, arm *ArmSpec, h CampaignHooks, logPath string) error {
	cmd, err := command(ctx, args, arm, h, false)
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
func switchArm(ctx context.Context, p *CampaignPlan, arm *ArmSpec, baseURL string, h CampaignHooks, block int) (*server, error) {
	logPath := filepath.Join(p.Dir(), "logs", fmt.Sprintf("%s-block%d.log", arm.Name, block+1))
	var srv *server
	switch {
	case len(arm.Start) > 0:
		cmd, err := command(ctx, arm.Start, arm, h, true)
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
		srv = &server{cmd: cmd, done: make(chan struct{}), log: f}
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
				if a := srv.announced["api"]; a != "" {
					baseURL = "http://" + a
				}
			}
		case <-time.After(10 * time.Second):
		case <-srv.done:
		}
	case len(arm.Switch) > 0:
		if err := runOnce(ctx, arm.Switch, arm, h, logPath); err != nil {
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
		sleepCtx(ctx, time.Duration(arm.Cooldown*float64(time.Second)))
	}
	return srv, nil
}

// waitReady polls the health endpoint, then resolves a model, then sends
// one smoke completion.
func waitReady(ctx context.Context, arm *ArmSpec, baseURL string, timeout time.Duration, srv *server) error {
	deadline := time.Now().Add(timeout)
	health := arm.Ready.HealthURL
	if health == "" {
		health = strings.TrimRight(baseURL, "/") + "/health"
	}
	c := NewClient(ClientOptions{BaseURL: baseURL, Concurrency: 1, RequestTimeout: 30 * time.Second})
	defer c.Close()
	var last error
	for {
		if srv != nil && srv.exited() {
			return fmt.Errorf("server exited before it was ready")
		}
		last = probeReady(ctx, c, health)
		if last == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s: %v", timeout, last)
		}
		sleepCtx(ctx, 200*time.Millisecond)
	}
	if arm.Ready.Smoke != nil && !*arm.Ready.Smoke {
		return nil
	}
	ids, err := c.Models(ctx)
	if err != nil || len(ids) == 0 {
		return fmt.Errorf("smoke: no model listed: %v", err)
	}
	var rec results.Request
	c.Complete(ctx, ctx, &CompletionRequest{Model: ids[0], Prompt: "kvbench readiness check", MaxTokens: 1, TopP: 1}, "campaign-smoke", false, &rec)
	if rec.ErrorKind != "" {
		return fmt.Errorf("smoke completion failed: %s", rec.Error)
	}
	return nil
}

func probeReady(ctx context.Context, c *Client, health string) error {
	if health != "none" {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, health, nil)
		if err != nil {
			return err
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		// A server without a health route (404) is judged by its model
		// list alone.
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNotFound {
			return fmt.Errorf("%s: HTTP %d", health, resp.StatusCode)
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
