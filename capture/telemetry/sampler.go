package telemetry

import (
	"context"
	"errors"
	"fmt"
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

// periodic samples at every phase boundary and every interval between
// boundaries, for the samplers that read counters (Prometheus, OS I/O).
// Mark and the interval loop may call sample at the same time.
type periodic struct {
	ctx    context.Context // done when the sampler closes or the run is interrupted
	cancel context.CancelFunc
	wg     sync.WaitGroup
	sample func(phase, point string)

	phaseMu sync.Mutex
	phase   string // the phase most recently marked
}

// start begins interval sampling (none when interval is 0) until stop or
// until ctx is done.
func (p *periodic) start(ctx context.Context, interval time.Duration, sample func(phase, point string)) {
	p.ctx, p.cancel = context.WithCancel(ctx)
	p.sample = sample
	if interval <= 0 {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-p.ctx.Done():
				return
			case <-t.C:
				p.phaseMu.Lock()
				phase := p.phase
				p.phaseMu.Unlock()
				sample(phase, PointInterval)
			}
		}
	}()
}

// mark samples a boundary; later interval samples belong to phase.
func (p *periodic) mark(phase, point string) {
	p.phaseMu.Lock()
	p.phase = phase
	p.phaseMu.Unlock()
	p.sample(phase, point)
}

// stop ends interval sampling and waits for the loop.
func (p *periodic) stop() {
	p.cancel()
	p.wg.Wait()
}

// durable is embedded by the samplers that write tables: it holds how
// their rows are kept durable while the run goes on.
type durable struct{ durability results.Durability }

func (d *durable) setDurability(x results.Durability) { d.durability = x }

// SetDurability sets how the samplers' tables are kept durable while a run
// goes on (part files sealed every d.Every; d.OnError told of the first
// write error). Call it before Open; samplers without tables ignore it.
func SetDurability(samplers []Sampler, d results.Durability) {
	for _, s := range samplers {
		if x, ok := s.(interface{ setDurability(results.Durability) }); ok {
			x.setDurability(d)
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

func newSink[T any](dir, table string, d results.Durability) (*sink[T], error) {
	w, err := results.OpenTableWriter[T](dir, table, 0, d)
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

// closeInto closes the sink and files its table in rep, or, when the
// table could not be written, a warning prefixed with the sampler's name.
func (s *sink[T]) closeInto(rep *Report, sampler, table string) (results.TableInfo, error) {
	if rep.Tables == nil {
		rep.Tables = map[string]results.TableInfo{}
	}
	info, err := s.close()
	if err != nil {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s: %v", sampler, err))
		return info, err
	}
	rep.Tables[table] = info
	return info, nil
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
