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

// Run executes the configuration's plan against the server and writes a run
// bundle. It returns an error only when no bundle could be written (bad
// configuration, unreachable server, unwritable directory); a run whose
// requests failed is a bundle marked invalid. Every goroutine it starts is
// joined before it returns.
func Run(ctx context.Context, cfg *Config, log io.Writer) (*Outcome, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	plan, err := BuildPlan(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.RunID == "" {
		cfg.RunID = cfg.Scenario + "_" + time.Now().UTC().Format("20060102T150405Z")
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 5 * time.Second
	}
	client := NewClient(ClientOptions{
		BaseURL: cfg.BaseURL, APIKey: cfg.APIKey, Concurrency: maxConcurrency(plan),
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
	m := &results.Manifest{
		RunID: cfg.RunID, Scenario: cfg.Scenario, TierMode: cfg.TierMode, KVMode: cfg.KVMode,
		Model: model, BaseURL: cfg.BaseURL, Config: cfg.Flags, Host: hostFacts(),
		Tables: map[string]results.TableInfo{},
	}
	if m.Config == nil {
		m.Config = map[string]string{}
	}
	m.Config["model"] = model
	m.Config["run-id"] = cfg.RunID

	tw, err := results.NewTableWriter[results.Request](dir, results.TableRequests, 0)
	if err != nil {
		return nil, err
	}
	recs := make(chan results.Request, 256)
	var writeErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the single writer
		defer wg.Done()
		for r := range recs {
			if writeErr == nil {
				writeErr = tw.Write(r)
			}
		}
	}()

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

	m.StartedUnixNs = time.Now().UnixNano()
	total, failed := 0, 0
	for _, ph := range plan.Phases {
		if ctx.Err() != nil {
			break
		}
		pr := runPhase(ctx, sendCtx, client, cfg, ph, recs)
		m.Phases = append(m.Phases, pr)
		total += pr.Requests
		failed += pr.Errors
		fmt.Fprintf(log, "phase %-16s %5d requests  %4d errors  %8.2fs\n", pr.Name, pr.Requests, pr.Errors,
			float64(pr.EndUnixNs-pr.StartUnixNs)/1e9)
	}
	m.EndedUnixNs = time.Now().UnixNano()
	stopGrace()
	cancelSend()
	close(recs)
	wg.Wait()

	closeErr := tw.Close()
	m.Tables[results.TableRequests] = tw.Info()
	m.Interrupted = ctx.Err() != nil
	m.Valid, m.InvalidReasons = validity(cfg, plan, total, failed, m.Interrupted)
	if writeErr != nil || closeErr != nil {
		m.Valid = false
		m.InvalidReasons = append(m.InvalidReasons, fmt.Sprintf("writing requests failed: %v", errors.Join(writeErr, closeErr)))
	}
	if err := results.WriteManifest(dir, m); err != nil {
		return nil, err
	}
	return &Outcome{Dir: dir, Manifest: m, Interrupted: m.Interrupted}, nil
}

func maxConcurrency(p *Plan) int {
	n := 1
	for _, ph := range p.Phases {
		n = max(n, ph.Concurrency)
	}
	return n
}

// runPhase runs one phase as a closed loop: Concurrency workers each send
// the next request as soon as their previous one ends.
func runPhase(ctx, sendCtx context.Context, client *Client, cfg *Config, ph PhasePlan, recs chan<- results.Request) results.Phase {
	out := results.Phase{Name: ph.Name, Concurrency: ph.Concurrency, StartUnixNs: time.Now().UnixNano()}
	next := make(chan PlannedRequest)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < ph.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for pr := range next {
				rec := buildRecord(cfg, ph, pr)
				req := &CompletionRequest{
					Model: cfg.Model, Prompt: pr.Prompt.Text, MaxTokens: cfg.MaxTokens,
					Temperature: cfg.Temperature, TopP: cfg.TopP, Stop: cfg.Stop, Stream: cfg.Stream,
				}
				if cfg.Stream {
					req.StreamOptions = &StreamOptions{IncludeUsage: true}
				}
				client.Complete(ctx, sendCtx, req, rec.RequestID, cfg.StoreResponses, &rec)
				mu.Lock()
				out.Requests++
				if rec.ErrorKind != "" {
					out.Errors++
				}
				mu.Unlock()
				recs <- rec
			}
		}()
	}
	for _, pr := range ph.Requests {
		if ctx.Err() != nil {
			break
		}
		now := time.Now().UnixNano()
		select {
		case next <- pr:
		case <-ctx.Done():
		}
		_ = now
	}
	close(next)
	wg.Wait()
	out.EndUnixNs = time.Now().UnixNano()
	return out
}

func buildRecord(cfg *Config, ph PhasePlan, pr PlannedRequest) results.Request {
	return results.Request{
		RunID: cfg.RunID, Scenario: cfg.Scenario, TierMode: cfg.TierMode, KVMode: cfg.KVMode,
		Phase: ph.Name, RequestIndex: int64(pr.Index), RequestID: fmt.Sprintf("%s-%d", cfg.RunID, pr.Index),
		PromptID: pr.Prompt.ID, PrefixGroup: pr.Prompt.PrefixGroup,
		IdentityHash: IdentityHash(pr.Prompt.Text, GenParams{
			Model: cfg.Model, MaxTokens: cfg.MaxTokens, Temperature: cfg.Temperature, TopP: cfg.TopP, Stop: cfg.Stop,
		}),
		Stream: cfg.Stream, Concurrency: int32(ph.Concurrency), MaxTokens: int32(cfg.MaxTokens),
		ScheduledUnixNs: time.Now().UnixNano(),
		RepeatIndex:     int32(pr.RepeatIndex), SessionID: pr.SessionID, BurstIndex: int32(pr.BurstIndex),
	}
}

func validity(cfg *Config, plan *Plan, total, failed int, interrupted bool) (bool, []string) {
	reasons := []string{}
	if interrupted {
		reasons = append(reasons, fmt.Sprintf("interrupted after %d of %d requests", total, plan.Total()))
	}
	if total == 0 {
		reasons = append(reasons, "no request was sent")
	} else if rate := float64(failed) / float64(total); rate > cfg.MaxErrorRate {
		reasons = append(reasons, fmt.Sprintf("error rate %.1f%% (%d of %d) exceeds --max-error-rate %.1f%%",
			100*rate, failed, total, 100*cfg.MaxErrorRate))
	}
	return len(reasons) == 0, reasons
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
	rows, err := results.ReadAll[results.Request](filepath.Join(dir, "requests.parquet"), results.TableRequests)
	if err != nil {
		return err
	}
	type acc struct {
		n, errs int
		ttft    []int64
	}
	byPhase := map[string]*acc{}
	var order []string
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
