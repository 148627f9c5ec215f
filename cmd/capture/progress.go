package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// progress shows live progress: bars on a terminal, a plain line every
// few seconds otherwise, nothing with --no-progress.
type progress struct {
	mu     sync.Mutex
	w      io.Writer
	tty    bool
	off    bool
	pool   *mpb.Progress
	bar    *mpb.Bar
	name   string
	total  int
	done   atomic.Int64
	failed atomic.Int64
	stop   chan struct{}
	ticker sync.WaitGroup
}

func newProgress(w io.Writer, off bool) *progress {
	p := &progress{w: w, off: off}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) StartPhase(name string, total int) {
	if p.off {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.name, p.total = name, total
	p.done.Store(0)
	p.failed.Store(0)
	if p.tty {
		if p.pool == nil {
			p.pool = mpb.New(mpb.WithOutput(p.w), mpb.WithWidth(40))
		}
		p.bar = p.pool.AddBar(int64(total),
			mpb.PrependDecorators(decor.Name(fmt.Sprintf("%-16s", name)), decor.CountersNoUnit("%d/%d")),
			mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return fmt.Sprintf("errors %d", p.failed.Load()) }),
				decor.Name(" "), decor.Elapsed(decor.ET_STYLE_GO)))
		return
	}
	p.stop = make(chan struct{})
	p.ticker.Add(1)
	go func(stop chan struct{}) {
		defer p.ticker.Done()
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				fmt.Fprintf(p.w, "progress: phase %s %d/%d requests, %d errors\n", name, p.done.Load(), total, p.failed.Load())
			case <-stop:
				return
			}
		}
	}(p.stop)
}

func (p *progress) RequestDone(failed bool) {
	if p.off {
		return
	}
	p.done.Add(1)
	if failed {
		p.failed.Add(1)
	}
	if p.tty {
		p.mu.Lock()
		if p.bar != nil {
			p.bar.Increment()
		}
		p.mu.Unlock()
	}
}

func (p *progress) EndPhase() {
	if p.off {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.SetTotal(-1, true) // complete, even when interrupted early
		p.bar = nil
	}
	if p.stop != nil {
		close(p.stop)
		p.stop = nil
		p.ticker.Wait()
	}
}

// Close waits for the display to finish.
func (p *progress) Close() {
	p.EndPhase()
	if p.pool != nil {
		p.pool.Wait()
	}
}
