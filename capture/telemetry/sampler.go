package telemetry

import (
	"context"
	"errors"
	"os"
	"sync"
	"syscall"
	"time"

	"kvbench/results"
)

// Sampler observes the server and the machine around a run: Prometheus
// scrapes, OS I/O counters, NVMe health, cache-directory churn, GPU
// samples, logs. The runner opens every sampler once the bundle directory
// exists, marks each phase boundary, and closes them after the last
// request; each sampler owns the tables it writes (through
// results.TableWriter, from its own goroutine).
type Sampler interface {
	// Name identifies the sampler in warnings ("prometheus", "io", ...).
	Name() string
	// Open starts the sampler; dir is the bundle directory. ctx is the
	// run's context: when it is cancelled (Ctrl-C), a scrape or external
	// command in flight is cancelled and nothing new is started, Close
	// included.
	Open(ctx context.Context, dir, runID string) error
	// Mark records a phase boundary: point is PointStart or PointEnd. It
	// is called from the runner's goroutine, in order, and must not block
	// for long (a scrape at a boundary is bounded by its timeout).
	Mark(phase, point string)
	// Close stops interval sampling and flushes the sampler's tables.
	Close() Report
}

// Report is what a sampler adds to the manifest.
type Report struct {
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

// sink hands rows from any goroutine to the one goroutine that owns a
// table's writer.
type sink[T any] struct {
	w    *results.TableWriter[T]
	in   chan []T
	done chan struct{}
	err  error

	mu     sync.RWMutex
	closed bool
}

func newSink[T any](dir, table string) (*sink[T], error) {
	w, err := results.NewTableWriter[T](dir, table, 0)
	if err != nil {
		return nil, err
	}
	s := &sink[T]{w: w, in: make(chan []T, 64), done: make(chan struct{})}
	go s.run()
	return s, nil
}

func (s *sink[T]) run() {
	defer close(s.done)
	for rows := range s.in {
		if s.err == nil {
			s.err = s.w.Write(rows...)
		}
	}
}

// put queues rows; it blocks only while the writer is behind by 64 batches.
// Rows put after close are dropped.
func (s *sink[T]) put(rows []T) {
	if len(rows) == 0 {
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return
	}
	s.in <- rows
}

// close drains the queue and closes the table file.
func (s *sink[T]) close() (results.TableInfo, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return s.w.Info(), s.err
	}
	s.closed = true
	close(s.in)
	s.mu.Unlock()
	<-s.done
	err := s.w.Close()
	if s.err != nil {
		err = s.err
	}
	return s.w.Info(), err
}

// Cause shortens Go's nested network errors to their cause, for one-line
// messages: "connection refused", "timed out", or the error itself.
func Cause(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	}
	return err.Error()
}

// unwrapPath drops the operation and path a *os.PathError adds.
func unwrapPath(err error) error {
	if pe, ok := errors.AsType[*os.PathError](err); ok {
		return pe.Err
	}
	return err
}
