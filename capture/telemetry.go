package capture

import (
	"context"
	"sync"
	"time"

	"kvbench/results"
)

// Sampler observes the server and the machine around a run: Prometheus
// scrapes, OS I/O counters, NVMe health, cache-directory churn. The runner
// opens every sampler once the bundle directory exists, marks each phase
// boundary, and closes them after the last request; each sampler owns the
// tables it writes (through results.TableWriter, from its own goroutine).
type Sampler interface {
	// Name identifies the sampler in warnings ("prometheus", "io", ...).
	Name() string
	// Open starts the sampler; dir is the bundle directory.
	Open(dir, runID string) error
	// Mark records a phase boundary: point is "start" or "end". It is
	// called from the runner's goroutine, in order, and must not block for
	// long (a scrape at a boundary is bounded by its timeout).
	Mark(phase, point string)
	// Close stops interval sampling and flushes the sampler's tables.
	Close() SamplerReport
}

// SamplerReport is what a sampler adds to the manifest.
type SamplerReport struct {
	Tables   map[string]results.TableInfo
	Warnings []string
	// Invalid lists reasons that make the run invalid (for example KVBM
	// metrics missing without --allow-missing-kvbm-metrics).
	Invalid []string
	// Facts are key facts for the manifest (e.g. NVMe model and serial).
	Facts map[string]any
}

// Boundary points.
const (
	PointStart    = "start"
	PointEnd      = "end"
	PointInterval = "interval"
)

// phaseState is the phase most recently marked, shared by a sampler's
// Mark (runner goroutine) and its interval loop.
type phaseState struct {
	mu    sync.Mutex
	phase string
}

func (p *phaseState) set(phase string) {
	p.mu.Lock()
	p.phase = phase
	p.mu.Unlock()
}

func (p *phaseState) get() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.phase
}

// intervalLoop calls sample with the current phase and PointInterval every
// interval until ctx is done; wg.Done is called when it returns.
func intervalLoop(ctx context.Context, wg *sync.WaitGroup, interval time.Duration, ps *phaseState, sample func(phase, point string)) {
	defer wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			sample(ps.get(), PointInterval)
		}
	}
}
