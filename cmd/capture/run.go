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
			return runOnce(cmd, cfg, f.NoProgress)
		},
	}
	f.Register(cmd.Flags())
	return cmd
}

// runOnce runs cfg and reports the bundle; the exit code says whether the
// run is valid. A second interrupt cuts the requests in flight.
func runOnce(cmd *cobra.Command, cfg *capture.Config, noProgress bool) error {
	ctx, release := abortOnSecondSignal(cmd.Context())
	defer release()
	prog := newProgress(cmd.ErrOrStderr(), noProgress)
	out, err := capture.Run(ctx, cfg, cmd.ErrOrStderr(), prog)
	prog.Close()
	if err != nil {
		return err
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
