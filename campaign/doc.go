// Package campaign runs many captures as one experiment: it decodes a
// declarative plan (arms, scenarios, sweeps, repetitions), expands it into
// an interleaved schedule, switches the server between arms and waits for
// it to be ready, and runs each scheduled capture through package capture
// as a normal run bundle under one campaign directory, resuming where an
// earlier invocation stopped. It sits above capture in the first stage of
// the pipeline; cmd/capture's `campaign` command is its front end. Each
// run's flags are resolved through capture.RunFlags, exactly as
// `capture run` resolves its command line.
package campaign
