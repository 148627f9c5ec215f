package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/spf13/cobra"

	"kvbench/capture"
	"kvbench/internal/cli"
)

func newRunCmd() *cobra.Command {
	f := &capture.RunFlags{}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run one scenario and write a run bundle",
		Args:  cobra.NoArgs,
		Example: `  capture run --base-url http://127.0.0.1:8000 --kv-mode cpu_disk \
    --scenario standard --prompt-set short --requests 64 --warmup 8 --concurrency 4 --stream
  capture run --base-url http://127.0.0.1:8000 --tier-mode B2 --scenario trace \
    --trace examples/trace-demo.jsonl --trace-block-tokens 256 --warmup 8 --concurrency 32 --stream`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.Config(cmd.Flags())
			if err != nil {
				return cli.Exit(cli.ExitUsage, err)
			}
			if f.DryRun {
				plan, err := capture.DryRun(cfg)
				if err != nil {
					return cli.Exit(cli.ExitUsage, err)
				}
				plan.Print(cmd.OutOrStdout())
				return nil
			}
			if f.CPUProfile != "" {
				stop, err := startCPUProfile(f.CPUProfile)
				if err != nil {
					return err
				}
				defer stop()
			}
			return runOnce(cmd, cfg, f.NoProgress, asJSON)
		},
	}
	f.Register(cmd.Flags())
	completeRunFlags(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the run's summary as one JSON object on stdout")
	return cmd
}

// runOnce runs cfg and reports the bundle; the exit code says whether the
// run is valid. A second interrupt cuts the requests in flight.
func runOnce(cmd *cobra.Command, cfg *capture.Config, noProgress, asJSON bool) error {
	ctx, release := abortOnSecondSignal(cmd.Context())
	defer release()
	prog := newProgress(cmd.ErrOrStderr(), noProgress)
	out, err := capture.Run(ctx, cfg, cmd.ErrOrStderr(), prog)
	prog.Close()
	if err != nil {
		return err
	}
	if asJSON {
		return runJSON(cmd, out)
	}
	if out.Preflight != "" {
		return cli.Exit(cli.ExitInvalid, fmt.Errorf("%s; bundle %s records it", out.Preflight, out.Dir))
	}
	w := cmd.OutOrStdout()
	if err := capture.Summary(w, out.Dir); err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "capture: summary: %v\n", err)
	}
	fmt.Fprintf(w, "run bundle: %s\n", out.Dir)
	m := out.Manifest
	switch {
	case out.Interrupted:
		fmt.Fprintf(w, "interrupted: %s\n", strings.Join(m.InvalidReasons, "; "))
		return cli.Exit(cli.ExitInterrupted, nil)
	case !m.Valid:
		fmt.Fprintf(w, "INVALID: %s\n", strings.Join(m.InvalidReasons, "; "))
		return cli.Exit(cli.ExitInvalid, nil)
	}
	fmt.Fprintln(w, "valid: yes")
	return nil
}

// runSummary is `capture run --json`: the bundle, its verdict, what was
// planned and sent, and each phase at a glance.
type runSummary struct {
	RunDir         string                 `json:"run_dir"`
	RunID          string                 `json:"run_id"`
	Valid          bool                   `json:"valid"`
	Interrupted    bool                   `json:"interrupted"`
	InvalidReasons []string               `json:"invalid_reasons"`
	Preflight      string                 `json:"preflight,omitempty"`
	NotSent        int                    `json:"not_sent"`
	Phases         []capture.PhaseSummary `json:"phases"`
}

// runJSON prints the outcome as one JSON object; the exit code is the
// one the text summary gives.
func runJSON(cmd *cobra.Command, out *capture.Outcome) error {
	m := out.Manifest
	s := runSummary{RunDir: out.Dir, Interrupted: out.Interrupted, Preflight: out.Preflight, Phases: []capture.PhaseSummary{}}
	if m != nil {
		s.RunID, s.Valid, s.InvalidReasons, s.NotSent = m.RunID, m.Valid, m.InvalidReasons, m.NotSent
	}
	if s.InvalidReasons == nil {
		s.InvalidReasons = []string{}
	}
	if ph, err := capture.Summarize(out.Dir); err == nil {
		s.Phases = ph
	}
	if err := writeJSON(cmd.OutOrStdout(), s); err != nil {
		return err
	}
	switch {
	case out.Interrupted:
		return cli.Exit(cli.ExitInterrupted, nil)
	case out.Preflight != "" || !s.Valid:
		return cli.Exit(cli.ExitInvalid, nil)
	}
	return nil
}

// startCPUProfile writes a CPU profile of this process to path until stop.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
