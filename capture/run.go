package capture

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"kvbench/capture/telemetry"
	"kvbench/results"
)

// Outcome is what a finished run reports to its caller.
type Outcome struct {
	Dir         string
	Manifest    *results.Manifest
	Interrupted bool
	// ServerLost is set when the run stopped because its server stopped
	// answering (the manifest says since when); a campaign may restart the
	// arm and try again.
	ServerLost bool
	// Preflight is the one-line reason when the preflight stopped the run
	// before anything was sent (the manifest says it too).
	Preflight string
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

// Run resolves the model, creates the bundle directory, runs the preflight
// checks, calibrates the prompt sizes, builds the run's plan once and
// executes it, writing a run bundle. It returns an error only when no
// bundle could be written (bad configuration, unreachable server,
// unwritable directory) or when writing it failed (a full disk: the rows
// made durable are left for `capture recover`); a run whose requests
// failed, or that the preflight stopped, is a bundle marked invalid. cfg
// is only read. Every goroutine it starts is joined before it returns.
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

// run is Run with the samplers built: everything a run settles before its
// first request (the model, the bundle directory, the preflight, the
// prompt calibration, then the plan), then the plan's execution.
func run(ctx context.Context, cfg *Config, samplers []telemetry.Sampler, log io.Writer, prog Progress) (*Outcome, error) {
	log = &lockedWriter{w: log}
	client := NewClient(ClientOptions{
		BaseURL: cfg.BaseURL, APIKey: cfg.APIKey, Concurrency: cfg.maxConcurrency(),
		RequestTimeout: cfg.RequestTimeout,
	})
	defer client.Close()
	if err := checkResultsDir(cfg.ResultsDir); err != nil {
		return nil, err
	}
	model, err := resolveModel(ctx, client, cfg)
	if err != nil {
		return nil, err
	}
	runID, dir, err := createRunDir(cfg)
	if err != nil {
		return nil, err
	}
	pre := preflight(ctx, cfg)
	for _, w := range pre.warnings {
		fmt.Fprintf(log, "warning: %s\n", w)
	}
	if pre.failure != "" {
		return preflightBundle(cfg, runID, model, dir, pre)
	}
	cal := calibrate(ctx, client, cfg, model, runID)
	if cal.Note != "" {
		fmt.Fprintf(log, "calibration: %s\n", cal.Note)
	}
	plan, err := NewPlan(cfg, Resolution{RunID: runID, Model: model, Calibration: cal})
	if err != nil {
		os.Remove(dir)
		return nil, err
	}
	r := &runner{cfg: cfg, plan: plan, client: client, prog: prog, answers: newAnswerBook(cfg.Temperature)}
	return r.execute(ctx, dir, samplers, pre, log)
}

// newRunID is the default run id: the scenario, a UTC stamp to the
// millisecond (so ids sort by time) and a short random suffix (so two
// runs started in the same millisecond differ).
func newRunID(scenario string) string {
	return fmt.Sprintf("%s_%s_%04x", scenario, time.Now().UTC().Format("20060102T150405.000Z"), rand.Uint32N(1<<16))
}

// execute runs the plan's phases with the samplers around them and writes
// the journal, the schedule, the records and, last, the manifest into dir.
// A write error (a full disk) cuts the run and is returned, the manifest
// unwritten: the rows already durable stay for `capture recover`.
func (r *runner) execute(ctx context.Context, dir string, samplers []telemetry.Sampler, pre preflightResult, log io.Writer) (*Outcome, error) {
	cfg, plan := r.cfg, r.plan
	r.stops = newStops(ctx, plan.Grace, log, r.inFlight.Load)
	defer r.stops.release()
	r.ctx, r.sendCtx = r.stops.run, r.stops.send
	r.loss = lossWatch{max: cfg.MaxConsecutiveFailures, after: cfg.UnreachableAfter}
	m := newManifest(cfg, plan)
	pre.record(m)
	j, w, err := r.begin(ctx, dir, m, samplers)
	if j != nil {
		defer j.Close()
	}
	if err != nil {
		if w != nil {
			w.close(dir, plan)
		}
		return nil, r.writeFailure(dir, j, err)
	}
	r.runPhases(m, j, log)
	m.EndedUnixNs = time.Now().UnixNano()

	st, werr := w.close(dir, plan)
	maps.Copy(m.Tables, st.tables)
	samplerInvalid := closeSamplers(r.samplers, m)
	if werr != nil {
		r.stops.failWrite(werr)
	}
	if err := r.stops.writeErr(); err != nil {
		return nil, r.writeFailure(dir, j, err)
	}
	m.Interrupted = ctx.Err() != nil
	lost := r.stops.serverLost()
	judge(cfg, plan, m, st, samplerInvalid, lost)
	if err := results.WriteManifest(dir, m); err != nil {
		return nil, r.writeFailure(dir, j, err)
	}
	return &Outcome{Dir: dir, Manifest: m, Interrupted: m.Interrupted, ServerLost: lost != nil}, nil
}

// begin writes what the run needs before its first request: the journal
// (locked for the run), the schedule, then, with the records writer
// started and the samplers open, the journal's start event. (The prompts
// table is written at the end, with the measured sizes: a crashed bundle
// has none.)
func (r *runner) begin(ctx context.Context, dir string, m *results.Manifest, samplers []telemetry.Sampler) (*results.Journal, *recordWriter, error) {
	j, err := results.CreateJournal(dir)
	if err != nil {
		return nil, nil, err
	}
	info, err := writeSchedule(dir, r.plan)
	if err != nil {
		return j, nil, err
	}
	m.Tables[results.TableSchedule] = info
	d := results.Durability{Every: r.cfg.DurableInterval, OnError: r.stops.failWrite}
	w, err := newRecordWriter(dir, r.cfg.MaxScheduleLag, d)
	if err != nil {
		return j, nil, err
	}
	r.recs = w.in
	telemetry.SetDurability(samplers, d)
	r.samplers = openSamplers(ctx, samplers, dir, r.plan.RunID, m)
	m.StartedUnixNs = time.Now().UnixNano()
	if err := j.Append(results.JournalEvent{Event: results.JournalStart, UnixNs: m.StartedUnixNs, Manifest: m}); err != nil {
		closeSamplers(r.samplers, m)
		return j, w, err
	}
	return j, w, nil
}

// runPhases runs the phases in order until the plan ends or the run is
// stopped, journalling each boundary.
func (r *runner) runPhases(m *results.Manifest, j *results.Journal, log io.Writer) {
	for _, ph := range r.plan.Phases {
		if r.ctx.Err() != nil {
			break
		}
		out := results.Phase{Name: ph.Name, Concurrency: ph.Concurrency, RepeatIndex: ph.Repeat, StartUnixNs: time.Now().UnixNano()}
		if err := j.Append(results.JournalEvent{Event: results.JournalPhaseStart, UnixNs: out.StartUnixNs, Phase: &out}); err != nil {
			r.stops.failWrite(err)
			break
		}
		pr := r.runPhase(ph, out)
		pr.NotSent = len(ph.Requests) - pr.Requests
		m.Phases = append(m.Phases, pr)
		fmt.Fprintf(log, "phase %-16s %5d requests  %4d errors  %8.2fs\n", pr.Name, pr.Requests, pr.Errors,
			float64(pr.EndUnixNs-pr.StartUnixNs)/1e9)
		if err := j.Append(results.JournalEvent{Event: results.JournalPhaseEnd, UnixNs: pr.EndUnixNs, Phase: &pr}); err != nil {
			r.stops.failWrite(err)
			break
		}
	}
	if cause := context.Cause(r.ctx); cause != nil && r.stops.writeErr() == nil {
		reason := "interrupted"
		if !errors.Is(cause, context.Canceled) {
			reason = cause.Error()
			fmt.Fprintf(log, "run stopped: %s\n", reason)
		}
		if err := j.Append(results.JournalEvent{Event: results.JournalStop, UnixNs: time.Now().UnixNano(), Reason: reason}); err != nil {
			r.stops.failWrite(err)
		}
	}
}

// writeFailure is the error of a run that could not write its bundle: the
// file and why, and, once the journal exists, how to keep what is durable.
func (r *runner) writeFailure(dir string, j *results.Journal, err error) error {
	if j == nil {
		return err
	}
	return fmt.Errorf("%v; the run stopped and wrote no manifest; the rows already durable are kept in %s: free space if the disk is full, then run: capture recover %s", err, dir, dir)
}

// newManifest starts the manifest with what the plan settled; the flags
// are copied, never changed in the configuration.
func newManifest(cfg *Config, plan *Plan) *results.Manifest {
	m := baseManifest(cfg, plan.RunID, plan.Model, plan.TierMode, plan.KVMode)
	plan.Trace.note(m)
	return m
}

// baseManifest is the manifest of a run before anything was sent.
func baseManifest(cfg *Config, runID, model, tier, kv string) *results.Manifest {
	m := &results.Manifest{
		RunID: runID, Scenario: cfg.Scenario, TierMode: tier, KVMode: kv,
		Model: model, BaseURL: cfg.BaseURL, Config: maps.Clone(cfg.Flags), Host: hostFacts(),
		Tables: map[string]results.TableInfo{}, Campaign: cfg.Campaign,
	}
	if m.Config == nil {
		m.Config = map[string]string{}
	}
	m.Config["model"] = model
	m.Config["run-id"] = runID
	m.Config["tier-mode"] = tier
	m.Config["kv-mode"] = kv
	return m
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

// judge completes the manifest: calibration error, warnings, requests not
// sent, validity.
func judge(cfg *Config, plan *Plan, m *results.Manifest, st writerStats, samplerInvalid []string, lost *ServerLostError) {
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
	m.NotSent = max(0, plan.Total()-st.requests)
	m.Planned, m.Sent = plan.Total(), st.requests
	if cfg.Duration > 0 && !m.Interrupted && lost == nil {
		m.Warnings = append(m.Warnings, fmt.Sprintf("--duration %s: %d of %d planned requests sent", cfg.Duration, st.requests, plan.Total()))
	}
	reasons, warn := validity(cfg, plan, st, m.Interrupted)
	if lost != nil {
		reasons = append([]string{fmt.Sprintf("%s; %d of %d planned requests not sent", lost, m.NotSent, plan.Total())}, reasons...)
	}
	m.Warnings = append(m.Warnings, warn...)
	m.InvalidReasons = append(reasons, samplerInvalid...)
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

// checkResultsDir creates the results directory if needed and checks
// that it takes a new file, before anything is sent.
func checkResultsDir(resultsDir string) error {
	if err := os.MkdirAll(resultsDir, 0o755); err != nil {
		return dirError(resultsDir, err)
	}
	f, err := os.CreateTemp(resultsDir, ".write-probe-*")
	if err != nil {
		return dirError(resultsDir, err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// createRunDir creates the run's directory <results-dir>/<run id>
// exclusively: captured data is never overwritten, and two runs never
// share a directory. A --run-id that exists is an error; a generated id
// that exists (two runs in the same millisecond drew the same suffix) is
// drawn again.
func createRunDir(cfg *Config) (runID, dir string, err error) {
	for range 8 {
		runID = cmp.Or(cfg.RunID, newRunID(cfg.Scenario))
		dir = filepath.Join(cfg.ResultsDir, runID)
		err = os.Mkdir(dir, 0o755)
		switch {
		case err == nil:
			return runID, dir, nil
		case !errors.Is(err, os.ErrExist):
			return "", "", dirError(cfg.ResultsDir, err)
		case cfg.RunID != "":
			return "", "", fmt.Errorf("run directory %s already exists; choose another --run-id", dir)
		}
	}
	return "", "", fmt.Errorf("run directory %s already exists", dir)
}

// dirError says why the results directory cannot be created or take a
// file, in words the user can act on: a file in the way, a read-only file
// system, no permission, a file system that takes no files (/proc), a
// full disk.
func dirError(dir string, err error) error {
	const other = "; choose another --results-dir"
	switch {
	case errors.Is(err, syscall.ENOTDIR) || errors.Is(err, os.ErrExist):
		if p := fileInTheWay(dir); p != "" {
			return fmt.Errorf("results directory %s: %s is a file, not a directory%s", dir, p, other)
		}
	case errors.Is(err, syscall.EROFS):
		return fmt.Errorf("results directory %s is on a read-only file system%s", dir, other)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("results directory %s: permission denied: this user cannot create files in %s%s", dir, nearestDir(dir), other)
	case errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("results directory %s: the disk is full", dir)
	case errors.Is(err, os.ErrNotExist):
		if fi, serr := os.Stat(dir); serr == nil && fi.IsDir() {
			return fmt.Errorf("results directory %s exists but takes no new files (a virtual file system such as /proc or /sys?)%s", dir, other)
		}
	}
	return fmt.Errorf("results directory %s: %w", dir, unwrapPath(err))
}

// fileInTheWay returns dir or the first of its parents that exists and is
// not a directory ("" when none).
func fileInTheWay(dir string) string {
	for p := filepath.Clean(dir); ; p = filepath.Dir(p) {
		if fi, err := os.Stat(p); err == nil {
			if fi.IsDir() {
				return ""
			}
			return p
		}
		if filepath.Dir(p) == p {
			return ""
		}
	}
}

// nearestDir returns dir or its nearest parent that exists.
func nearestDir(dir string) string {
	p := filepath.Clean(dir)
	for {
		if _, err := os.Stat(p); err == nil || filepath.Dir(p) == p {
			return p
		}
		p = filepath.Dir(p)
	}
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
