package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"kvbench/analysis"
	"kvbench/ingest"
	"kvbench/internal/cli"
	"kvbench/report"
)

func newPlanCmd() *cobra.Command {
	var (
		filter              ingest.Filter
		seed                uint64
		baseline, candidate string
		o                   analysis.PlanOptions
		detect              []string
	)
	cmd := &cobra.Command{
		Use:   "plan PATH...",
		Short: "From pilot runs, print how many runs per arm a decision needs",
		Long: `Estimate the within- and between-run variation of a metric's quantile from pilot runs
(at least two per arm) and print the runs per arm (and requests per run) needed to detect
each change with the given power at the report's confidence, and how long they take at
the pilot's pace.`,
		Example: `  analyze plan results/ --metric ttft --phase replay --quantile 0.5 --detect 5%,10%,20% --power 0.8`,
		Args:    needPaths("plan"),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, d := range detect {
				v, err := parseChange(d)
				if err != nil {
					return cli.Exit(cli.ExitUsage, err)
				}
				o.Detect = append(o.Detect, v)
			}
			ds, err := ingest.Load(args, filter)
			if err != nil {
				return err
			}
			a := analysis.New(analysis.Options{Seed: seed, Baseline: baseline, Candidate: candidate, Phases: []string{o.Phase}})
			a.AddDataset(ds)
			printSkipped(cmd, ds.Skipped)
			if a.Len() == 0 {
				return errors.New("no usable runs (every bundle found was skipped or filtered out)")
			}
			p, err := a.Plan(o)
			if err != nil {
				return err
			}
			return report.PlanText(cmd.OutOrStdout(), p)
		},
	}
	f := cmd.Flags()
	filterFlags(f, &filter)
	f.StringVar(&o.Metric, "metric", "ttft", "metric: ttft, latency or itl")
	f.StringVar(&o.Phase, "phase", "replay", "phase")
	f.Float64Var(&o.Quantile, "quantile", 0.5, "quantile in (0, 1)")
	f.StringSliceVar(&detect, "detect", []string{"5%", "10%", "20%"}, "changes to detect (repeatable or a list; 10% or 0.1)")
	f.Float64Var(&o.Power, "power", 0.8, "power in (0, 1)")
	f.Uint64Var(&seed, "seed", 1, "seed of the bootstrap")
	f.StringVar(&baseline, "baseline", "B1", "baseline arm")
	f.StringVar(&candidate, "candidate", "B2", "candidate arm")
	return cmd
}

// parseChange reads "10%" or "0.1" as 0.1.
func parseChange(s string) (float64, error) {
	t := strings.TrimSpace(s)
	scale := 1.0
	if strings.HasSuffix(t, "%") {
		t, scale = strings.TrimSuffix(t, "%"), 0.01
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || !(v*scale > 0 && v*scale < 1) {
		return 0, fmt.Errorf("--detect %q: want a change such as 10%% or 0.1, between 0 and 100%%", s)
	}
	return v * scale, nil
}
