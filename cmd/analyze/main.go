// Command analyze merges kvbench run bundles, computes percentile
// statistics with intervals and B2-vs-B1 comparisons, and renders
// report.md, summary.json and plots. It is a thin adapter over the three
// stages: ingest reads, analysis decides, report renders.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"kvbench/analysis"
	"kvbench/ingest"
	"kvbench/internal/cli"
	"kvbench/report"
	"kvbench/results"
)

func main() { cli.Main(run) }

// run is main without the process: tests call it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := &cobra.Command{
		Use:     "analyze",
		Short:   "Merge run bundles and report B2-vs-B1 statistics",
		Example: "  analyze report results/ --out report/",
		Version: cli.Version(results.Version),
	}
	root.AddCommand(newReportCmd(), newExportCmd(), newPlanCmd())
	return cli.Execute(ctx, root, args, stdout, stderr)
}

func newReportCmd() *cobra.Command {
	var (
		out                 string
		filter              ingest.Filter
		since               string
		seed                uint64
		baseline, candidate string
		phases              []string
		slo                 []string
		sloTarget           float64
		maxAnswerChange     float64
		force               bool
	)
	cmd := &cobra.Command{
		Use:   "report PATH...",
		Short: "Write report.md, summary.json and plots for the runs under PATH",
		Example: `  analyze report results/ --out out/
  analyze report results/run_a results/run_b --out out/ --phase replay`,
		Args: needPaths("report"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return errNoOut
			}
			if since != "" {
				t, err := time.Parse(time.RFC3339, since)
				if err != nil {
					return cli.Exit(cli.ExitUsage, fmt.Errorf("--since %q: want an RFC 3339 time such as 2026-11-27T00:00:00Z", since))
				}
				filter.Since = t
			}
			ds, err := ingest.Load(args, filter)
			if err != nil {
				return err
			}
			objective, err := results.ParseSLO(slo...)
			if err != nil {
				return cli.Exit(cli.ExitUsage, err)
			}
			if sloTarget <= 0 || sloTarget > 1 {
				return cli.Usage("--slo-target %v: want a share between 0 and 1, e.g. 0.9", sloTarget)
			}
			a := analysis.New(analysis.Options{Seed: seed, Baseline: baseline, Candidate: candidate, Phases: phases,
				SLO: objective, SLOTarget: sloTarget, MaxAnswerChange: maxAnswerChange})
			a.AddDataset(ds)
			printSkipped(cmd, ds.Skipped)
			if a.Len() == 0 {
				return errors.New("no usable runs (every bundle found was skipped or filtered out)")
			}
			path, err := report.WriteWith(out, a.Summary(), report.WriteOptions{Force: force})
			if errors.Is(err, report.ErrNotOurs) {
				return cli.Exit(cli.ExitUsage, err)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "report: %s (%d runs)\n", path, a.Len())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "output directory for report.md, summary.json and plots/ (an earlier report there is replaced)")
	f.BoolVar(&force, "force", false, "write into a directory that holds files analyze did not write (they are left alone)")
	filterFlags(f, &filter)
	f.StringSliceVar(&phases, "phase", nil, "only these phases (warmup is always excluded)")
	f.StringVar(&since, "since", "", "only runs started at or after this RFC 3339 time")
	f.Uint64Var(&seed, "seed", 1, "seed of the bootstrap")
	f.StringVar(&baseline, "baseline", "B1", "baseline arm")
	f.StringVar(&candidate, "candidate", "B2", "candidate arm")
	f.StringArrayVar(&slo, "slo", nil, "judge requests by this objective, e.g. ttft=500ms, itl=50ms (p90 chunk gap), e2e=20s (repeatable; overrides the runs' own --slo)")
	f.Float64Var(&sloTarget, "slo-target", analysis.DefaultSLOTarget, "attainment a request-rate sweep's knee must keep")
	f.Float64Var(&maxAnswerChange, "max-answer-change", analysis.DefaultMaxAnswerChange, "share of a run's repeated answers that may change before the run is flagged ANSWERS_CHANGED")
	return cmd
}

func newExportCmd() *cobra.Command {
	var (
		out    string
		filter ingest.Filter
		appnd  bool
	)
	cmd := &cobra.Command{
		Use:   "export PATH...",
		Short: "Write every table of every valid run as one hive-partitioned Parquet dataset",
		Long: `Write DIR/<table>/scenario=S/tier_mode=T/run_id=R/part-0.parquet for every table of every
valid run under PATH, so DuckDB, Spark and pandas can query fleets of runs directly.`,
		Example: `  analyze export results/ --out dataset/
  duckdb -c "SELECT tier_mode, quantile_cont(ttft_ns/1e6, 0.99) FROM read_parquet('dataset/requests/*/*/*/*.parquet', hive_partitioning=true) WHERE error_kind='' GROUP BY ALL"`,
		Args: needPaths("export"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return errNoOut
			}
			if err := emptyOrAppend(out, appnd); err != nil {
				return err
			}
			bundles, skipped, err := ingest.Discover(args, filter)
			if err != nil {
				return err
			}
			st, more, err := ingest.Export(bundles, out)
			printSkipped(cmd, append(skipped, more...))
			if err != nil {
				return err
			}
			if st.Runs == 0 {
				return errors.New("no valid runs to export")
			}
			held, err := ingest.DatasetRuns(out)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "exported %d runs, %d files, %d rows to %s; the dataset now holds %d runs\n",
				st.Runs, st.Files, st.Rows, out, held)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "output directory of the dataset (empty or new, unless --append)")
	f.BoolVar(&appnd, "append", false, "add to the dataset already in --out (a run exported again is replaced)")
	filterFlags(f, &filter)
	return cmd
}

// emptyOrAppend refuses to export into a non-empty directory unless the
// user asked to add to it: a silent merge would mix datasets.
func emptyOrAppend(dir string, appnd bool) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(entries) == 0) || (err == nil && appnd) {
		return nil
	}
	if err != nil {
		return err
	}
	return cli.Exit(cli.ExitUsage, fmt.Errorf("--out %s is not empty: pass --append to add to the dataset in it, or choose an empty directory", dir))
}

// printSkipped lists on stderr the bundles that were not used, with why.
func printSkipped(cmd *cobra.Command, skipped []ingest.Skipped) {
	for _, s := range skipped {
		fmt.Fprintf(cmd.ErrOrStderr(), "skipped %s: %s\n", s.Path, s.Reason)
	}
}

// needPaths is the argument check of the commands that read bundles.
func needPaths(name string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cli.Usage("%s needs at least one PATH (a run directory or a folder of runs)", name)
		}
		return nil
	}
}

// errNoOut is the usage error of a command run without --out.
var errNoOut = cli.Exit(cli.ExitUsage, errors.New("--out DIR is required"))

// filterFlags binds the run selection flags both commands take.
func filterFlags(f *pflag.FlagSet, filter *ingest.Filter) {
	f.StringSliceVar(&filter.Scenarios, "scenario", nil, "only these scenarios")
	f.StringSliceVar(&filter.TierModes, "tier-mode", nil, "only these tier modes")
	f.StringSliceVar(&filter.Runs, "run", nil, "only these run ids")
}
