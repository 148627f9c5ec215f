package capture

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"kvbench/capture/telemetry"
	"kvbench/results"
)

// Outcome is what a finished run reports to its caller.
type Outcome struct {
	Dir         string
	Manifest    *results.Manifest
	Interrupted bool
}

// Progress receives live progress. Its methods are called from several
// goroutines and must be safe for concurrent use.
type Progress interface {
	StartPhase(name string, total int)
	RequestDone(failed bool)
	EndPhase()
}

type noProgress struct{}

func (noProgress) StartPhase(string, int) {}
func (noProgress) RequestDone(bool)       {}
func (noProgress) EndPhase()              {}

// Run resolves the model, creates the bundle directory, calibrates the
// prompt sizes, builds the run's plan once and executes it, writing a run
// bundle. It returns an error only when no bundle could be written (bad
// configuration, unreachable server, unwritable directory); a run whose
// requests failed is a bundle marked invalid. cfg is only read. Every
// goroutine it starts is joined before it returns.
func Run(ctx context.Context, cfg *Config, log io.Writer, prog Progress) (*Outcome, error) {
	if prog == nil {
		prog = noProgress{}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	samplers, err := cfg.Telemetry.Samplers()
	if err != nil {
		return nil, err
	}
	return run(ctx, cfg, samplers, log, prog)
}

// run is Run with the samplers built.
func run(ctx context.Context, cfg *Config, samplers []telemetry.Sampler, log io.Writer, prog Progress) (*Outcome, error) {
	client := NewClient(ClientOptions{
		BaseURL: cfg.BaseURL, APIKey: cfg.APIKey, Concurrency: cfg.maxConcurrency(),
		RequestTimeout: cfg.RequestTimeout,
	})
	defer client.Close()
	plan, dir, err := prepare(ctx, cfg, client, log)
	if err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, plan: plan, client: client, prog: prog, answers: newAnswerBook(cfg.Temperature)}
	return r.execute(ctx, dir, samplers, log)
}

// prepare settles everything a run needs before its first request: the
// model, the bundle directory, the prompt calibration, then the plan.
func prepare(ctx context.Context, cfg *Config, client *Client, log io.Writer) (*Plan, string, error) {
	model, err := resolveModel(ctx, client, cfg)
	if err != nil {
		return nil, "", err
	}
	runID := cmp.Or(cfg.RunID, newRunID(cfg.Scenario))
	dir, err := createRunDir(cfg.ResultsDir, runID)
	if err != nil {
		return nil, "", err
	}
	cal := calibrate(ctx, client, cfg, model, runID)
	if cal.Note != "" {
		fmt.Fprintf(log, "calibration: %s\n", cal.Note)
	}
	plan, err := NewPlan(cfg, Resolution{RunID: runID, Model: model, Calibration: cal})
	if err != nil {
		return nil, "", err
	}
	return plan, dir, nil
}

// newRunID is the default run id: the scenario and a UTC stamp.
func newRunID(scenario string) string {
	return scenario + "_" + time.Now().UTC().Format("20060102T150405Z")
}

// execute runs the plan's phases with the samplers around them and writes
// the schedule, the records and, last, the manifest into dir.
func (r *runner) execute(ctx context.Context, dir string, samplers []telemetry.Sampler, log io.Writer) (*Outcome, error) {
	cfg, plan := r.cfg, r.plan
	m := newManifest(cfg, plan)
	// The schedule is written before the first request is sent.
	info, err := writeSchedule(dir, plan)
	if err != nil {
		return nil, err
	}
	m.Tables[results.TableSchedule] = info
	w, err := newRecordWriter(dir, cfg.MaxScheduleLag)
	if err != nil {
		return nil, err
	}
	r.ctx, r.recs = ctx, w.in
	r.samplers = openSamplers(ctx, samplers, dir, plan.RunID, m)
	var stopSend func()
	r.sendCtx, stopSend = sendContext(ctx, plan.Grace)
	m.StartedUnixNs = time.Now().UnixNano()
	for _, ph := range plan.Phases {
		if ctx.Err() != nil {
			break
		}
		pr := r.runPhase(ph)
		m.Phases = append(m.Phases, pr)
		fmt.Fprintf(log, "phase %-16s %5d requests  %4d errors  %8.2fs\n", pr.Name, pr.Requests, pr.Errors,
			float64(pr.EndUnixNs-pr.StartUnixNs)/1e9)
	}
	m.EndedUnixNs = time.Now().UnixNano()
	stopSend()

	st, werr := w.close(dir, plan)
	maps.Copy(m.Tables, st.tables)
	samplerInvalid := closeSamplers(r.samplers, m)
	m.Interrupted = ctx.Err() != nil
	judge(cfg, plan, m, st, samplerInvalid, werr)
	if err := results.WriteManifest(dir, m); err != nil {
		return nil, err
	}
	return &Outcome{Dir: dir, Manifest: m, Interrupted: m.Interrupted}, nil
}

// newManifest starts the manifest with what the plan settled; the flags
// are copied, never changed in the configuration.
func newManifest(cfg *Config, plan *Plan) *results.Manifest {
	m := &results.Manifest{
		RunID: plan.RunID, Scenario: plan.Scenario, TierMode: plan.TierMode, KVMode: plan.KVMode,
		Model: plan.Model, BaseURL: cfg.BaseURL, Config: maps.Clone(cfg.Flags), Host: hostFacts(),
		Tables: map[string]results.TableInfo{}, Campaign: cfg.Campaign,
	}
	if m.Config == nil {
		m.Config = map[string]string{}
	}
	m.Config["model"] = plan.Model
	m.Config["run-id"] = plan.RunID
	m.Config["tier-mode"] = plan.TierMode
	m.Config["kv-mode"] = plan.KVMode
	plan.Trace.note(m)
	return m
}

// sendContext returns the context of in-flight requests: it outlives ctx
// by grace so they can finish after an interrupt, while nothing new is
// issued once ctx is done. stop releases it.
func sendContext(ctx context.Context, grace time.Duration) (sendCtx context.Context, stop func()) {
	sendCtx, cancelSend := context.WithCancel(context.WithoutCancel(ctx))
	stopGrace := context.AfterFunc(ctx, func() {
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-t.C:
			cancelSend()
		case <-sendCtx.Done():
		}
	})
	return sendCtx, func() { stopGrace(); cancelSend() }
}

// openSamplers opens each sampler with the run's context; one that fails
// to open is a warning and is left out.
func openSamplers(ctx context.Context, samplers []telemetry.Sampler, dir, runID string, m *results.Manifest) []telemetry.Sampler {
	var open []telemetry.Sampler
	for _, s := range samplers {
		if err := s.Open(ctx, dir, runID); err != nil {
			m.Warnings = append(m.Warnings, fmt.Sprintf("%s: %v", s.Name(), err))
			continue
		}
		open = append(open, s)
	}
	return open
}

// closeSamplers closes the samplers in order, adds their tables, warnings
// and facts to the manifest and returns the reasons they give to call the
// run invalid.
func closeSamplers(samplers []telemetry.Sampler, m *results.Manifest) []string {
	var invalid []string
	for _, s := range samplers {
		rep := s.Close()
		maps.Copy(m.Tables, rep.Tables)
		m.Warnings = append(m.Warnings, rep.Warnings...)
		invalid = append(invalid, rep.Invalid...)
		if len(rep.Facts) > 0 {
			if m.Facts == nil {
				m.Facts = map[string]any{}
			}
			maps.Copy(m.Facts, rep.Facts)
		}
	}
	return invalid
}

// judge completes the manifest: calibration error, warnings, validity.
func judge(cfg *Config, plan *Plan, m *results.Manifest, st writerStats, samplerInvalid []string, werr error) {
	cal := *plan.Calibration
	cal.MaxRelError = st.maxRelErr
	m.Calibration = &cal
	if st.maxRelErr != nil && *st.maxRelErr > 0.02 {
		m.Warnings = append(m.Warnings, fmt.Sprintf("prompt sizes missed their token targets by up to %.1f%% (goal ±2%%): see calibration in the manifest", 100**st.maxRelErr))
	}
	if st.repeated > 0 {
		msg := fmt.Sprintf("reuse_verify: %d of %d repeated requests returned a different text than the first time", st.textMismatch, st.repeated)
		if st.textMismatch > 0 {
			msg += " (not deterministic: check temperature, seed and stop settings)"
		}
		m.Warnings = append(m.Warnings, msg)
	} else if cfg.Scenario == ScenarioReuseVerify && !cfg.StoreResponses {
		m.Warnings = append(m.Warnings, "reuse_verify: pass --store-responses to check that repeated requests get identical answers")
	}
	reasons, warn := validity(cfg, plan, st, m.Interrupted)
	m.Warnings = append(m.Warnings, warn...)
	m.InvalidReasons = append(reasons, samplerInvalid...)
	if werr != nil {
		m.InvalidReasons = append(m.InvalidReasons, fmt.Sprintf("writing records failed: %v", werr))
	}
	m.Valid = len(m.InvalidReasons) == 0
}

// validity returns why the run is invalid (none: valid) and the warnings
// that do not make it so.
func validity(cfg *Config, plan *Plan, st writerStats, interrupted bool) (reasons, warnings []string) {
	reasons = []string{}
	total := st.requests
	if interrupted {
		reasons = append(reasons, fmt.Sprintf("interrupted after %d of %d requests", total, plan.Total()))
	}
	if st.preflight > 0 {
		msg := fmt.Sprintf("%d request(s) over --max-num-tokens %d were not sent (preflight)", st.preflight, cfg.MaxNumTokens)
		if cfg.AllowPreflightSkip {
			warnings = append(warnings, msg)
		} else {
			reasons = append(reasons, msg+"; use --allow-preflight-skip to accept")
		}
	}
	sent := total - st.preflight
	switch {
	case total == 0:
		reasons = append(reasons, "no request was sent")
	case sent > 0:
		failed := st.failed - st.preflight - st.canceled
		if rate := float64(failed) / float64(sent); rate > cfg.MaxErrorRate {
			reasons = append(reasons, fmt.Sprintf("error rate %.1f%% (%d of %d) exceeds --max-error-rate %.1f%%",
				100*rate, failed, sent, 100*cfg.MaxErrorRate))
		}
	}
	if (cfg.RequestRate > 0 || cfg.traceTimed()) && cfg.MaxScheduleLag > 0 && st.lateStarts > 0 {
		frac := float64(st.lateStarts) / float64(max(1, sent))
		if frac > 0.01 {
			reasons = append(reasons, fmt.Sprintf("client fell behind its schedule: %d of %d requests started more than %s late (max %s)",
				st.lateStarts, sent, cfg.MaxScheduleLag, time.Duration(st.maxLagNs)))
		}
	}
	return reasons, warnings
}

// resolveModel returns cfg.Model, or the first model the server lists,
// polling /v1/models until the resolve timeout. An unreachable server is an
// error whatever --model says.
func resolveModel(ctx context.Context, c *Client, cfg *Config) (string, error) {
	deadline := time.Now().Add(cfg.ModelResolveTimeout)
	poll := cfg.ModelResolvePoll
	if poll <= 0 {
		poll = time.Second
	}
	for {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		ids, err := c.Models(actx)
		cancel()
		_, isStatus := errors.AsType[*StatusError](err)
		switch {
		case err == nil && cfg.Model != "":
			return cfg.Model, nil
		case err == nil && len(ids) > 0:
			return ids[0], nil
		case cfg.Model != "" && isStatus:
			// The server answers but has no model list: trust --model.
			return cfg.Model, nil
		}
		if ctx.Err() != nil {
			return "", fmt.Errorf("model resolve interrupted: %w", ctx.Err())
		}
		if !time.Now().Add(poll).Before(deadline) {
			if err != nil {
				return "", fmt.Errorf("base URL %s does not answer: %v", cfg.BaseURL, telemetry.Cause(err))
			}
			return "", fmt.Errorf("base URL %s lists no model after %s; pass --model", cfg.BaseURL, cfg.ModelResolveTimeout)
		}
		select {
		case <-time.After(poll):
		case <-ctx.Done():
		}
	}
}

// createRunDir creates <resultsDir>/<runID>. It refuses an existing run
// directory: captured data is never overwritten.
func createRunDir(resultsDir, runID string) (string, error) {
	if err := os.MkdirAll(resultsDir, 0o755); err != nil {
		return "", fmt.Errorf("results directory %s: %w", resultsDir, unwrapPath(err))
	}
	dir := filepath.Join(resultsDir, runID)
	if err := os.Mkdir(dir, 0o755); err != nil {
		if errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("run directory %s already exists; choose another --run-id", dir)
		}
		return "", fmt.Errorf("results directory %s: %w", resultsDir, unwrapPath(err))
	}
	// Probe writability now rather than after the first row group.
	probe := filepath.Join(dir, ".write-probe")
	if err := os.WriteFile(probe, nil, 0o644); err != nil {
		os.Remove(dir)
		return "", fmt.Errorf("results directory %s is not writable: %w", resultsDir, unwrapPath(err))
	}
	os.Remove(probe)
	return dir, nil
}

// unwrapPath drops the operation and path a *os.PathError adds.
func unwrapPath(err error) error {
	if pe, ok := errors.AsType[*os.PathError](err); ok {
		return pe.Err
	}
	return err
}

func hostFacts() results.Host {
	h := results.Host{OS: runtime.GOOS, Arch: runtime.GOARCH, NumCPU: runtime.NumCPU(), GoVer: runtime.Version()}
	h.Hostname, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		h.Kernel = strings.TrimSpace(string(b))
	}
	return h
}
