package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"kvbench/capture"
)

// abortOnSecondSignal returns ctx carrying an abort channel (see
// capture.WithAbort) that is closed by the second SIGINT or SIGTERM: the
// first cancels ctx (cli.Main), so in-flight requests finish within the
// grace time; the second cuts them. release stops listening.
func abortOnSecondSignal(ctx context.Context) (context.Context, func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	abort := make(chan struct{})
	done := make(chan struct{})
	go func() {
		n := 0
		if ctx.Err() != nil {
			n = 1 // the first signal came before we listened
		}
		for {
			select {
			case <-sigs:
				if n++; n == 2 {
					close(abort)
					return
				}
			case <-done:
				return
			}
		}
	}()
	return capture.WithAbort(ctx, abort), func() { signal.Stop(sigs); close(done) }
}
