package capture

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"kvbench/capture/telemetry"
	"kvbench/results"
)

// runner executes a plan: it sends each phase's requests with the phase's
// load model and hands every record to the writer. run sets what it needs
// from the start (configuration, plan, client, progress); execute the
// rest.
type runner struct {
	cfg     *Config
	plan    *Plan
	client  *Client
	ctx     context.Context // the run: once done, nothing new is sent
	loopCtx context.Context // the phase: ctx, or ctx ending at the phase's --duration
	sendCtx context.Context // in-flight requests: outlives ctx by the grace period
	stops   *stops
	recs    chan<- results.Request
	prog    Progress
	loss    lossWatch

	samplers []telemetry.Sampler
	answers  *answerBook
	inFlight atomic.Int64

	mu    sync.Mutex
	phase *results.Phase
}

// runPhase runs one phase with its load model and returns out with its
// end and counts.
func (r *runner) runPhase(ph PhasePlan, out results.Phase) results.Phase {
	r.phase = &out
	for _, s := range r.samplers {
		s.Mark(ph.Name, telemetry.PointStart)
	}
	r.prog.StartPhase(ph.Name, len(ph.Requests))
	r.loopCtx = r.ctx
	if ph.Until > 0 {
		// --duration: no request starts after it; those in flight finish.
		var cancel context.CancelFunc
		r.loopCtx, cancel = context.WithTimeout(r.ctx, ph.Until)
		defer cancel()
	}
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
		s.Mark(ph.Name, telemetry.PointEnd)
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
		if r.loopCtx.Err() != nil {
			break
		}
		select {
		case next <- pr:
		case <-r.loopCtx.Done():
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
		if i > 0 && !sleepCtx(r.loopCtx, ph.Think) {
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
		if !sleepCtx(r.loopCtx, time.Until(due)) {
			break
		}
		select {
		case slots <- struct{}{}:
		case <-r.loopCtx.Done():
		}
		if r.loopCtx.Err() != nil {
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
	cfg, plan := r.cfg, r.plan
	maxTok := cmp.Or(pr.MaxTokens, cfg.MaxTokens)
	rec := results.Request{
		RunID: plan.RunID, Scenario: plan.Scenario, TierMode: plan.TierMode, KVMode: plan.KVMode,
		Phase: ph.Name, RequestIndex: int64(pr.Index), RequestID: fmt.Sprintf("%s-%d", plan.RunID, pr.Index),
		PromptID: pr.Prompt.ID, PrefixGroup: pr.Prompt.PrefixGroup, IdentityHash: pr.Prompt.Identity,
		Stream: cfg.Stream, Concurrency: int32(ph.Concurrency), MaxTokens: int32(maxTok),
		ScheduledUnixNs: scheduled.UnixNano(),
		RepeatIndex:     int32(pr.RepeatIndex), SessionID: pr.SessionID, BurstIndex: int32(pr.BurstIndex),
		TraceLine: int64(pr.TraceLine), TraceSeenBlocks: int32(pr.TraceSeenBlocks),
	}
	if cfg.MaxNumTokens > 0 && pr.Prompt.TargetTokens+maxTok > cfg.MaxNumTokens {
		rec.StartUnixNs = time.Now().UnixNano()
		rec.ErrorKind = results.ErrPreflight
		rec.Error = fmt.Sprintf("prompt of about %d tokens + max_tokens %d exceeds --max-num-tokens %d; not sent",
			pr.Prompt.TargetTokens, maxTok, cfg.MaxNumTokens)
	} else {
		req := &CompletionRequest{
			Model: plan.Model, Prompt: pr.Prompt.Text(), MaxTokens: maxTok,
			Temperature: cfg.Temperature, TopP: cfg.TopP, Stop: cfg.Stop, Stream: cfg.Stream,
		}
		if cfg.Stream {
			req.StreamOptions = &StreamOptions{IncludeUsage: true}
		}
		r.inFlight.Add(1)
		r.client.Complete(r.ctx, r.sendCtx, req, rec.RequestID, cfg.StoreResponses, &rec)
		r.inFlight.Add(-1)
		if lost := r.loss.observe(&rec, time.Now()); lost != nil {
			r.stops.halt(lost, false)
		}
	}
	failed := rec.ErrorKind != ""
	r.mu.Lock()
	r.phase.Requests++
	if failed {
		r.phase.Errors++
	}
	r.mu.Unlock()
	r.prog.RequestDone(failed)
	r.answers.check(&rec)
	r.recs <- rec
}
