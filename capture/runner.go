package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

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

// Run executes the configuration's plan against the server and writes a run
// bundle. It returns an error only when no bundle could be written (bad
// configuration, unreachable server, unwritable directory); a run whose
// requests failed is a bundle marked invalid. Every goroutine it starts is
// joined before it returns.
func Run(ctx context.Context, cfg *Config, log io.Writer, prog Progress) (*Outcome, error) {
	if prog == nil {
		prog = noProgress{}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if _, err := BuildPlan(cfg); err != nil { // fail fast on a bad plan
		return nil, err
	}
	if cfg.RunID == "" {
		cfg.RunID = cfg.Scenario + "_" + time.Now().UTC().Format("20060102T150405Z")
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 5 * time.Second
	}
	client := NewClient(ClientOptions{
		BaseURL: cfg.BaseURL, APIKey: cfg.APIKey, Concurrency: cfg.maxConcurrency(),
		RequestTimeout: cfg.RequestTimeout,
	})
	defer client.Close()

	model, err := resolveModel(ctx, client, cfg)
	if err != nil {
		return nil, err
	}
	cfg.Model = model
	dir, err := createRunDir(cfg.ResultsDir, cfg.RunID)
	if err != nil {
		return nil, err
	}
	cal := calibrate(ctx, client, cfg)
	cfg.WordsPerToken, cfg.WordsOffset = cal.WordsPerToken, cal.OffsetTokens
	if cal.Note != "" {
		fmt.Fprintf(log, "calibration: %s\n", cal.Note)
	}
	plan, err := BuildPlan(cfg)
	if err != nil {
		return nil, err
	}

	m := &results.Manifest{
		RunID: cfg.RunID, Scenario: cfg.Scenario, TierMode: cfg.TierMode, KVMode: cfg.KVMode,
		Model: model, BaseURL: cfg.BaseURL, Config: cfg.Flags, Host: hostFacts(),
		Tables: map[string]results.TableInfo{}, Calibration: cal, Campaign: cfg.Campaign,
	}
	if m.Config == nil {
		m.Config = map[string]string{}
	}
	m.Config["model"] = model
	m.Config["run-id"] = cfg.RunID
	m.Config["tier-mode"] = cfg.TierMode
	m.Config["kv-mode"] = cfg.KVMode

	gp := GenParams{Model: cfg.Model, MaxTokens: cfg.MaxTokens, Temperature: cfg.Temperature, TopP: cfg.TopP, Stop: cfg.Stop}
	hashes := make(map[*Prompt]string, len(plan.Prompts))
	for _, pr := range plan.Prompts {
		hashes[pr] = IdentityHash(pr.Text(), gp)
	}
	// The schedule is written before the first request is sent.
	if info, err := writeSchedule(dir, cfg, plan, hashes); err != nil {
		return nil, err
	} else {
		m.Tables[results.TableSchedule] = info
	}

	w, err := newRecordWriter(dir, cfg.MaxScheduleLag)
	if err != nil {
		return nil, err
	}
	var open []Sampler
	for _, s := range cfg.Samplers {
		if err := s.Open(dir, cfg.RunID); err != nil {
			m.Warnings = append(m.Warnings, fmt.Sprintf("%s: %v", s.Name(), err))
			continue
		}
		open = append(open, s)
	}

	// sendCtx outlives ctx by the grace period so in-flight requests can
	// finish after an interrupt; nothing new is issued once ctx is done.
	sendCtx, cancelSend := context.WithCancel(context.Background())
	stopGrace := context.AfterFunc(ctx, func() {
		t := time.NewTimer(cfg.Grace)
		defer t.Stop()
		select {
		case <-t.C:
			cancelSend()
		case <-sendCtx.Done():
		}
	})

	r := &runner{cfg: cfg, client: client, ctx: ctx, sendCtx: sendCtx, recs: w.in, hashes: hashes, prog: prog, samplers: open}
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
	stopGrace()
	cancelSend()

	st, werr := w.close(dir, cfg.RunID, plan)
	for name, info := range st.tables {
		m.Tables[name] = info
	}
	var samplerInvalid []string
	for _, s := range open {
		rep := s.Close()
		for name, info := range rep.Tables {
			m.Tables[name] = info
		}
		m.Warnings = append(m.Warnings, rep.Warnings...)
		samplerInvalid = append(samplerInvalid, rep.Invalid...)
		if len(rep.Facts) > 0 {
			if m.Facts == nil {
				m.Facts = map[string]any{}
			}
			for k, v := range rep.Facts {
				m.Facts[k] = v
			}
		}
	}
	cal.MaxRelError = st.maxRelErr
	if st.maxRelErr != nil && *st.maxRelErr > 0.02 {
		m.Warnings = append(m.Warnings, fmt.Sprintf("prompt sizes missed their token targets by up to %.1f%% (goal ±2%%): see calibration in the manifest", 100**st.maxRelErr))
	}
	if st.repeated > 0 {
		msg := fmt.Sprintf("reuse_verify: %d of %d repeated requests returned a different text than the first time", st.textMismatch, st.repeated)
		if st.textMismatch > 0 {
			msg += " (not deterministic: check temperature, seed and stop settings)"
		}
		m.Warnings = append(m.Warnings, msg)
	} else if cfg.Scenario == "reuse_verify" && !cfg.StoreResponses {
		m.Warnings = append(m.Warnings, "reuse_verify: pass --store-responses to check that repeated requests get identical answers")
	}
	m.Interrupted = ctx.Err() != nil
	var warn []string
	m.Valid, m.InvalidReasons, warn = validity(cfg, plan, st, m.Interrupted)
	m.Warnings = append(m.Warnings, warn...)
	m.InvalidReasons = append(m.InvalidReasons, samplerInvalid...)
	m.Valid = len(m.InvalidReasons) == 0
	if werr != nil {
		m.Valid = false
		m.InvalidReasons = append(m.InvalidReasons, fmt.Sprintf("writing records failed: %v", werr))
	}
	if err := results.WriteManifest(dir, m); err != nil {
		return nil, err
	}
	return &Outcome{Dir: dir, Manifest: m, Interrupted: m.Interrupted}, nil
}

func (c *Config) maxConcurrency() int {
	n := max(1, c.Concurrency)
	for _, v := range []int{c.EvictionAConcurrency, c.EvictionBConcurrency, c.RehydratePopulateConcurrency,
		c.RehydrateThrashConcurrency, c.RehydrateReplayConcurrency, c.RehydrateBaselineConcurrency,
		c.CopilotSessions * c.CopilotBurstSize} {
		n = max(n, v)
	}
	return n
}

type runner struct {
	cfg     *Config
	client  *Client
	ctx     context.Context // the run: once done, nothing new is sent
	sendCtx context.Context // in-flight requests: outlives ctx by the grace period
	recs    chan<- results.Request
	hashes  map[*Prompt]string
	prog    Progress

	samplers []Sampler

	mu    sync.Mutex
	phase *results.Phase
}

// runPhase runs one phase with its load model and returns its bounds.
func (r *runner) runPhase(ph PhasePlan) results.Phase {
	out := results.Phase{Name: ph.Name, Concurrency: ph.Concurrency, RepeatIndex: ph.Repeat, StartUnixNs: time.Now().UnixNano()}
	r.phase = &out
	for _, s := range r.samplers {
		s.Mark(ph.Name, PointStart)
	}
	r.prog.StartPhase(ph.Name, len(ph.Requests))
	switch {
	case ph.Rate > 0:
		r.openLoop(ph)
	case ph.Think > 0:
		r.bursts(ph)
	default:
		r.closedLoop(ph.Requests, ph)
	}
	r.prog.EndPhase()
	out.EndUnixNs = time.Now().UnixNano()
	for _, s := range r.samplers {
		s.Mark(ph.Name, PointEnd)
	}
	return out
}

// closedLoop: Concurrency workers each send the next request as soon as
// their previous one ends.
func (r *runner) closedLoop(reqs []PlannedRequest, ph PhasePlan) {
	next := make(chan PlannedRequest)
	var wg sync.WaitGroup
	for w := 0; w < min(ph.Concurrency, len(reqs)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for pr := range next {
				r.send(ph, pr, time.Now())
			}
		}()
	}
	for _, pr := range reqs {
		if r.ctx.Err() != nil {
			break
		}
		select {
		case next <- pr:
		case <-r.ctx.Done():
		}
	}
	close(next)
	wg.Wait()
}

// bursts sends each burst's requests at once (closed loop within the
// burst) and waits ph.Think between bursts.
func (r *runner) bursts(ph PhasePlan) {
	for i := 0; i < len(ph.Requests); {
		j := i
		for j < len(ph.Requests) && ph.Requests[j].BurstIndex == ph.Requests[i].BurstIndex {
			j++
		}
		if i > 0 && !sleepCtx(r.ctx, ph.Think) {
			return
		}
		r.closedLoop(ph.Requests[i:j], ph)
		i = j
	}
}

// openLoop sends each request at its intended time, at most Concurrency in
// flight; a request that has to wait for a slot starts late, and the lag
// (start - scheduled) is in its record.
func (r *runner) openLoop(ph PhasePlan) {
	start := time.Now()
	slots := make(chan struct{}, ph.Concurrency)
	var wg sync.WaitGroup
	for _, pr := range ph.Requests {
		due := start.Add(pr.Offset)
		if !sleepCtx(r.ctx, time.Until(due)) {
			break
		}
		select {
		case slots <- struct{}{}:
		case <-r.ctx.Done():
		}
		if r.ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(pr PlannedRequest) {
			defer wg.Done()
			defer func() { <-slots }()
			r.send(ph, pr, due)
		}(pr)
	}
	wg.Wait()
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// send runs one request (or records its preflight rejection) and hands the
// record to the writer.
func (r *runner) send(ph PhasePlan, pr PlannedRequest, scheduled time.Time) {
	cfg := r.cfg
	rec := results.Request{
		RunID: cfg.RunID, Scenario: cfg.Scenario, TierMode: cfg.TierMode, KVMode: cfg.KVMode,
		Phase: ph.Name, RequestIndex: int64(pr.Index), RequestID: fmt.Sprintf("%s-%d", cfg.RunID, pr.Index),
		PromptID: pr.Prompt.ID, PrefixGroup: pr.Prompt.PrefixGroup, IdentityHash: r.hashes[pr.Prompt],
		Stream: cfg.Stream, Concurrency: int32(ph.Concurrency), MaxTokens: int32(cfg.MaxTokens),
		ScheduledUnixNs: scheduled.UnixNano(),
		RepeatIndex:     int32(pr.RepeatIndex), SessionID: pr.SessionID, BurstIndex: int32(pr.BurstIndex),
	}
	if cfg.MaxNumTokens > 0 && pr.Prompt.TargetTokens+cfg.MaxTokens > cfg.MaxNumTokens {
		rec.StartUnixNs = time.Now().UnixNano()
		rec.ErrorKind = results.ErrPreflight
		rec.Error = fmt.Sprintf("prompt of about %d tokens + max_tokens %d exceeds --max-num-tokens %d; not sent",
			pr.Prompt.TargetTokens, cfg.MaxTokens, cfg.MaxNumTokens)
	} else {
		req := &CompletionRequest{
			Model: cfg.Model, Prompt: pr.Prompt.Text(), MaxTokens: cfg.MaxTokens,
			Temperature: cfg.Temperature, TopP: cfg.TopP, Stop: cfg.Stop, Stream: cfg.Stream,
		}
		if cfg.Stream {
			req.StreamOptions = &StreamOptions{IncludeUsage: true}
		}
		r.client.Complete(r.ctx, r.sendCtx, req, rec.RequestID, cfg.StoreResponses, &rec)
	}
	failed := rec.ErrorKind != ""
	r.mu.Lock()
	r.phase.Requests++
	if failed {
		r.phase.Errors++
	}
	r.mu.Unlock()
	r.prog.RequestDone(failed)
	r.recs <- rec
}

func validity(cfg *Config, plan *Plan, st writerStats, interrupted bool) (bool, []string, []string) {
	reasons, warnings := []string{}, []string(nil)
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
	if cfg.RequestRate > 0 && cfg.MaxScheduleLag > 0 && st.lateStarts > 0 {
		frac := float64(st.lateStarts) / float64(max(1, sent))
		if frac > 0.01 {
			reasons = append(reasons, fmt.Sprintf("client fell behind its schedule: %d of %d requests started more than %s late (max %s)",
				st.lateStarts, sent, cfg.MaxScheduleLag, time.Duration(st.maxLagNs)))
		}
	}
	return len(reasons) == 0, reasons, warnings
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
		switch {
		case err == nil && cfg.Model != "":
			return cfg.Model, nil
		case err == nil && len(ids) > 0:
			return ids[0], nil
		case cfg.Model != "" && isStatus(err):
			// The server answers but has no model list: trust --model.
			return cfg.Model, nil
		}
		if ctx.Err() != nil {
			return "", fmt.Errorf("model resolve interrupted: %w", ctx.Err())
		}
		if !time.Now().Add(poll).Before(deadline) {
			if err != nil {
				return "", fmt.Errorf("base URL %s does not answer: %v", cfg.BaseURL, unwrapNet(err))
			}
			return "", fmt.Errorf("base URL %s lists no model after %s; pass --model", cfg.BaseURL, cfg.ModelResolveTimeout)
		}
		select {
		case <-time.After(poll):
		case <-ctx.Done():
		}
	}
}

func isStatus(err error) bool {
	var se *StatusError
	return errors.As(err, &se)
}

// unwrapNet shortens Go's nested URL errors to their cause.
func unwrapNet(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	}
	return err.Error()
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

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
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

// Summary writes a short per-phase table of a finished bundle's records.
// Note: these are nearest-rank figures for a glance at the terminal; the
// statistics a brief cites come from analyze.
func Summary(w io.Writer, dir string) error {
	type acc struct {
		n, errs int
		ttft    []int64
	}
	byPhase := map[string]*acc{}
	var order []string
	// Stream the rows: only TTFTs are kept, so memory stays small however
	// long the run was.
	err := results.Scan(filepath.Join(dir, "requests.parquet"), results.TableRequests, 1024, func(rows []results.Request) error {
		for _, r := range rows {
			a := byPhase[r.Phase]
			if a == nil {
				a = &acc{}
				byPhase[r.Phase] = a
				order = append(order, r.Phase)
			}
			a.n++
			if r.ErrorKind != "" {
				a.errs++
			} else if r.TTFTNs != nil {
				a.ttft = append(a.ttft, *r.TTFTNs)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%-16s %8s %7s %12s %12s\n", "PHASE", "REQUESTS", "ERRORS", "TTFT p50 ms", "TTFT max ms")
	for _, p := range order {
		a := byPhase[p]
		sort.Slice(a.ttft, func(i, j int) bool { return a.ttft[i] < a.ttft[j] })
		p50, mx := "-", "-"
		if n := len(a.ttft); n > 0 {
			p50 = fmt.Sprintf("%.2f", float64(a.ttft[(n-1)/2])/1e6)
			mx = fmt.Sprintf("%.2f", float64(a.ttft[n-1])/1e6)
		}
		fmt.Fprintf(w, "%-16s %8d %7d %12s %12s\n", p, a.n, a.errs, p50, mx)
	}
	return nil
}
