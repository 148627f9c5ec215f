package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"kvbench/capture"
	"kvbench/results"
)

// Options connects a campaign to its caller.
type Options struct {
	// Executable replaces the placeholder {capture} in arm commands, so a
	// plan can start `{capture} sim ...` without knowing where it lives
	// (default: this process's executable).
	Executable string
	Log        io.Writer // progress lines; io.Discard when nil
	Progress   capture.Progress
}

// Result summarises a campaign invocation.
type Result struct {
	Runs        []ScheduledRun
	Invalid     int
	Interrupted bool
}

// Execute runs the schedule: it switches the server between arms, waits
// for readiness, and runs each scheduled capture as a normal run bundle
// under the campaign directory. Runs with a complete, valid bundle are
// skipped (resume); any other bundle already there is moved to
// .superseded/ (never deleted) and run again.
func Execute(ctx context.Context, p *Plan, runs []ScheduledRun, o Options) (*Result, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	if err := os.MkdirAll(filepath.Join(p.Dir(), "logs"), 0o755); err != nil {
		return nil, fmt.Errorf("campaign directory %s: %w", p.Dir(), unwrapPath(err))
	}
	ResolveStatus(p, runs)
	e := &execution{plan: p, opts: o, res: &Result{Runs: runs}}
	defer func() { e.srv.stop() }()
	runErr := e.runAll(ctx, runs)
	if ctx.Err() != nil {
		e.res.Interrupted = true
	}
	if err := writeIndex(p, runs); err != nil && runErr == nil {
		runErr = err
	}
	return e.res, runErr
}

// execution is the state of one Execute: the arm whose server is up.
type execution struct {
	plan    *Plan
	opts    Options
	res     *Result
	srv     *server
	current *ArmSpec
}

// runAll runs the schedule in order until it ends, fails or is
// interrupted.
func (e *execution) runAll(ctx context.Context, runs []ScheduledRun) error {
	for i := range runs {
		r := &runs[i]
		if r.Status == StatusDone {
			fmt.Fprintf(e.opts.Log, "campaign: %d/%d %s: complete bundle found, skipped\n", i+1, len(runs), r.RunID)
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		if r.Arm != e.current {
			if err := e.switchTo(ctx, r); err != nil || ctx.Err() != nil {
				return err
			}
		}
		fmt.Fprintf(e.opts.Log, "campaign: %d/%d %s (arm %s, repetition %d)\n", i+1, len(runs), r.RunID, r.Arm.Name, r.Repetition+1)
		out, err := e.runWithRetries(ctx, r)
		if err != nil {
			return err
		}
		switch {
		case out.Interrupted:
			r.Status = StatusInterrupted
			e.res.Interrupted = true
			return nil
		case !out.Manifest.Valid:
			r.Status = StatusInvalid
			e.res.Invalid++
			fmt.Fprintf(e.opts.Log, "campaign: %s is INVALID: %s\n", r.RunID, strings.Join(out.Manifest.InvalidReasons, "; "))
		default:
			r.Status = StatusCompleted
		}
	}
	return nil
}

// runWithRetries runs r; when its server was lost and the arm has retries
// left, it runs the arm's start or switch command again and repeats the
// run as a new attempt (the earlier bundle is kept under .superseded/).
func (e *execution) runWithRetries(ctx context.Context, r *ScheduledRun) (*capture.Outcome, error) {
	for attempt := 1; ; attempt++ {
		out, err := e.runOne(ctx, r, attempt)
		if err != nil || !out.ServerLost || attempt > r.Arm.Retries || ctx.Err() != nil {
			return out, err
		}
		fmt.Fprintf(e.opts.Log, "campaign: %s: %s; restarting arm %s for attempt %d of %d\n",
			r.RunID, out.Manifest.InvalidReasons[0], r.Arm.Name, attempt+1, r.Arm.Retries+1)
		if err := e.switchTo(ctx, r); err != nil || ctx.Err() != nil {
			return out, err
		}
	}
}

// switchTo stops the current arm's server and brings up r's arm. An
// interrupt while switching is not an error.
func (e *execution) switchTo(ctx context.Context, r *ScheduledRun) error {
	e.srv.stop()
	e.srv, e.current = nil, nil
	fmt.Fprintf(e.opts.Log, "campaign: switching to arm %s\n", r.Arm.Name)
	base, err := r.Flags.Config()
	if err != nil {
		return fmt.Errorf("run %s: %w", r.RunID, err)
	}
	srv, err := switchArm(ctx, e.plan, r.Arm, base.BaseURL, e.opts.Executable, r.Block)
	e.srv = srv
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("arm %s: %w", r.Arm.Name, err)
	}
	e.current = r.Arm
	return nil
}

// runOne resolves a run's configuration (pointed at the addresses the
// arm's server announced), moves an earlier attempt aside, flushes and
// runs it.
func (e *execution) runOne(ctx context.Context, r *ScheduledRun, attempt int) (*capture.Outcome, error) {
	flags := r.Flags
	if e.srv != nil && len(e.srv.announced) > 0 {
		flags = flags.withAnnounced(e.srv.announced, r.Arm)
	}
	cfg, err := flags.Config()
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", r.RunID, err)
	}
	cfg.Campaign = &results.CampaignRef{ID: e.plan.Campaign, Arm: r.Arm.Name, Repetition: r.Repetition + 1,
		Position: r.Position + 1, SweepPoint: r.SweepMap(), Attempt: attempt}
	dir := e.plan.Dir()
	if _, err := os.Stat(filepath.Join(dir, r.RunID)); err == nil {
		// An earlier attempt (resume or retry): never deleted.
		if err := e.keepEarlier(dir, r.RunID); err != nil {
			return nil, err
		}
	}
	if len(r.Arm.Flush) > 0 {
		logPath := filepath.Join(dir, "logs", "flush-"+r.RunID+".log")
		if err := runOnce(ctx, r.Arm.Flush, r.Arm, e.opts.Executable, logPath); err != nil {
			return nil, fmt.Errorf("arm %s: flush before %s: %w", r.Arm.Name, r.RunID, err)
		}
	}
	out, err := capture.Run(ctx, cfg, e.opts.Log, e.opts.Progress)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", r.RunID, err)
	}
	return out, nil
}

// keepEarlier moves an earlier attempt of a run aside, recovering it first
// when its capture crashed (killed with the campaign), so that the copy
// kept is a readable bundle.
func (e *execution) keepEarlier(dir, runID string) error {
	run := filepath.Join(dir, runID)
	if _, crashed := results.Crashed(run); crashed {
		if rec, err := capture.Recover(run); err != nil {
			fmt.Fprintf(e.opts.Log, "campaign: %s crashed and could not be recovered (%v); kept as it is\n", runID, err)
		} else {
			fmt.Fprintf(e.opts.Log, "campaign: %s had crashed: recovered %d durable request rows\n", runID, rec.Manifest.Tables[results.TableRequests].Rows)
		}
	}
	return supersede(dir, runID)
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

// index is campaign.json: the schedule and what happened.
type index struct {
	Campaign string      `json:"campaign"`
	Order    string      `json:"order"`
	Seed     uint64      `json:"seed"`
	Runs     []indexItem `json:"runs"`
}

type indexItem struct {
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

func writeIndex(p *Plan, runs []ScheduledRun) error {
	idx := index{Campaign: p.Campaign, Order: p.Order, Seed: p.Seed}
	for _, r := range runs {
		idx.Runs = append(idx.Runs, indexItem{Position: r.Position + 1, Block: r.Block + 1, Arm: r.Arm.Name,
			TierMode: r.Arm.TierMode, Repetition: r.Repetition + 1, Scenario: r.Scenario, Sweep: r.SweepMap(),
			RunID: r.RunID, Status: r.Status})
	}
	data, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	return results.WriteFileAtomic(filepath.Join(p.Dir(), "campaign.json"), append(data, '\n'))
}

// unwrapPath drops the operation and path a *os.PathError adds.
func unwrapPath(err error) error {
	if pe, ok := errors.AsType[*os.PathError](err); ok {
		return pe.Err
	}
	return err
}
