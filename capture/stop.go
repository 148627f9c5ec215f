package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"kvbench/results"
)

// This file holds how a run stops before its plan is done: an interrupt
// (the caller's context, then a second one that cuts in-flight requests),
// a lost server, or a write error.

type abortKey struct{}

// WithAbort returns a copy of ctx carrying abort. A run cancelled through
// ctx lets its in-flight requests finish within the grace time; once abort
// is closed as well (a second Ctrl-C) it cuts them at once. Either way it
// writes every row received and the manifest.
func WithAbort(ctx context.Context, abort <-chan struct{}) context.Context {
	return context.WithValue(ctx, abortKey{}, abort)
}

// abortOf returns the abort channel of ctx (nil: none).
func abortOf(ctx context.Context) <-chan struct{} {
	ch, _ := ctx.Value(abortKey{}).(<-chan struct{})
	return ch
}

// errAborted is the cause of a run cut by a second interrupt.
var errAborted = errors.New("stopped at once by a second interrupt")

// ServerLostError is why a run stopped when its server stopped answering.
type ServerLostError struct {
	Since  time.Time // first failure of the streak
	Streak int       // failures in a row with no success
	Last   string    // the last failure's message
}

func (e *ServerLostError) Error() string {
	return fmt.Sprintf("server unreachable since %s (%d failures in a row, none succeeded; last: %s)",
		e.Since.UTC().Format("2006-01-02T15:04:05.000Z"), e.Streak, truncate(e.Last, 160))
}

// lossWatch decides that the server is lost: max failures in a row with no
// success, or failures with no success for after. Failures that count are
// those of a server that is gone or hung (connection refused or reset,
// timeouts, and the 502/503/504 a frontend gives when its worker is gone);
// only a success resets the streak.
type lossWatch struct {
	max   int
	after time.Duration

	mu     sync.Mutex
	streak int
	since  time.Time
	last   string
	lost   bool
}

// observe records one finished request at now and returns the cause the
// first time the server is judged lost.
func (l *lossWatch) observe(rec *results.Request, now time.Time) *ServerLostError {
	if l.max <= 0 && l.after <= 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case rec.ErrorKind == "":
		l.streak = 0
		return nil
	case !serverGone(rec):
		return nil
	}
	if l.streak == 0 {
		l.since = now
	}
	l.streak++
	l.last = rec.Error
	if l.lost {
		return nil
	}
	if (l.max > 0 && l.streak >= l.max) || (l.after > 0 && l.streak > 1 && now.Sub(l.since) >= l.after) {
		l.lost = true
		return &ServerLostError{Since: l.since, Streak: l.streak, Last: l.last}
	}
	return nil
}

// serverGone reports whether a failed request looks like a server that
// is gone or hung rather than one that refused this request.
func serverGone(rec *results.Request) bool {
	switch rec.ErrorKind {
	case results.ErrConnection, results.ErrTimeout:
		return true
	case results.ErrHTTP:
		switch rec.StatusCode {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
	}
	return false
}

// stops holds the contexts of a run: run (nothing new is sent once it is
// done) and send (in-flight requests, which outlive an interrupt by the
// grace time unless the run is cut at once).
type stops struct {
	run      context.Context
	stopRun  context.CancelCauseFunc
	send     context.Context
	stopSend context.CancelFunc
	release  func()

	mu    sync.Mutex
	fatal error // the first write error
}

// newStops derives the run's contexts from the caller's ctx. An interrupt
// (ctx done) prints at once that in-flight requests are finishing; a
// second one (WithAbort) cuts them.
func newStops(ctx context.Context, grace time.Duration, log io.Writer, inFlight func() int64) *stops {
	s := &stops{}
	s.run, s.stopRun = context.WithCancelCause(ctx)
	s.send, s.stopSend = context.WithCancel(context.WithoutCancel(ctx))
	stopGrace := context.AfterFunc(s.run, func() {
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-t.C:
			s.stopSend()
		case <-s.send.Done():
		}
	})
	stopNotice := context.AfterFunc(ctx, func() {
		fmt.Fprintf(log, "interrupt: no new requests; %d in flight may finish within %s (Ctrl-C again stops them at once); every row received and the manifest will be written\n",
			inFlight(), grace)
	})
	done := make(chan struct{})
	if abort := abortOf(ctx); abort != nil {
		go func() {
			select {
			case <-abort:
				fmt.Fprintln(log, "interrupt: stopping at once; writing the rows received and the manifest")
				s.halt(errAborted, true)
			case <-done:
			}
		}()
	}
	s.release = func() { stopGrace(); stopNotice(); close(done); s.stopRun(nil); s.stopSend() }
	return s
}

// halt stops sending for cause; hard also cuts the requests in flight.
func (s *stops) halt(cause error, hard bool) {
	s.stopRun(cause)
	if hard {
		s.stopSend()
	}
}

// failWrite records a write error (the first is kept) and cuts the run:
// with a file that cannot be written nothing more can be kept.
func (s *stops) failWrite(err error) {
	s.mu.Lock()
	if s.fatal == nil {
		s.fatal = err
	}
	s.mu.Unlock()
	s.halt(err, true)
}

// writeErr returns the first write error, or nil.
func (s *stops) writeErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fatal
}

// serverLost returns why the server was judged lost, or nil.
func (s *stops) serverLost() *ServerLostError {
	if lost, ok := errors.AsType[*ServerLostError](context.Cause(s.run)); ok {
		return lost
	}
	return nil
}

// lockedWriter serialises writes to a log shared by goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
