package main

import (
	"errors"
	"fmt"
	"kvbench/internal/cli"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"kvbench/capture"
)

func newCampaignCmd() *cobra.Command {
	var dryRun, noProgress bool
	cmd := &cobra.Command{
		Use:   "campaign PLAN",
		Short: "Run a declarative campaign: arms, scenarios, sweeps, interleaved repetitions",
		Long: `Run every run of a campaign plan (YAML; schema in the README) as a normal run bundle
under <results_dir>/<campaign>/, switching the server between arms with the plan's commands
and waiting for readiness (health endpoint, model resolve, one smoke completion) before each
arm. Running the same plan again skips runs whose bundles are complete and valid and re-runs
the rest; earlier attempts are moved to .superseded/, never deleted.`,
		Example: `  capture campaign examples/sim-demo.yaml
  capture campaign examples/phase60.yaml --dry-run
  capture campaign validate examples/mode-compare.yaml`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return cli.Usage("campaign needs exactly one PLAN file")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			plan, runs, err := loadPlan(args[0])
			if err != nil {
				return err
			}
			if dryRun {
				capture.ResolveStatus(plan, runs)
				capture.PrintSchedule(cmd.OutOrStdout(), plan, runs)
				return nil
			}
			prog := newProgress(cmd.ErrOrStderr(), noProgress)
			exe, _ := os.Executable()
			res, err := capture.RunCampaign(cmd.Context(), plan, runs, capture.CampaignHooks{
				BuildConfig: buildConfig, Executable: exe, Log: cmd.ErrOrStderr(), Progress: prog, HasFlag: hasRunFlag,
			})
			prog.Close()
			if res != nil {
				capture.PrintSchedule(cmd.OutOrStdout(), plan, res.Runs)
			}
			if err != nil {
				return err
			}
			switch {
			case res.Interrupted:
				fmt.Fprintln(cmd.OutOrStdout(), "campaign interrupted; run the same command again to resume")
				return cli.Exit(cli.ExitInterrupted, nil)
			case res.Invalid > 0:
				fmt.Fprintf(cmd.OutOrStdout(), "campaign finished with %d invalid run(s)\n", res.Invalid)
				return cli.Exit(cli.ExitInvalid, nil)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "campaign complete: %s\n", plan.Dir())
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the full schedule (with resume status) and exit")
	cmd.Flags().BoolVar(&noProgress, "no-progress", false, "no live progress display")
	cmd.AddCommand(&cobra.Command{
		Use:     "validate PLAN",
		Short:   "Check a campaign plan without touching the network",
		Example: "  capture campaign validate examples/phase60.yaml",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return cli.Usage("validate needs exactly one PLAN file")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			plan, runs, err := loadPlan(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "plan %s is valid: campaign %s, %d arms, %d runs\n", args[0], plan.Campaign, len(plan.Arms), len(runs))
			return nil
		},
	})
	return cmd
}

// loadPlan reads a plan, expands its schedule and resolves every run's
// flags, so that a plan with a bad flag fails before anything runs.
func loadPlan(path string) (*capture.CampaignPlan, []capture.CampaignRun, error) {
	plan, err := capture.LoadCampaign(path)
	if err != nil {
		return nil, nil, cli.Exit(cli.ExitUsage, err)
	}
	runs := plan.Schedule()
	for _, r := range runs {
		cfg, err := buildConfig(r.Flags)
		if err != nil {
			return nil, nil, cli.Exit(cli.ExitUsage, fmt.Errorf("campaign plan %s: run %s: %w", path, r.RunID, err))
		}
		if _, err := capture.BuildPlan(cfg); err != nil {
			return nil, nil, cli.Exit(cli.ExitUsage, fmt.Errorf("campaign plan %s: run %s: %w", path, r.RunID, err))
		}
	}
	return plan, runs, nil
}

// buildConfig resolves `capture run` flags given by name, exactly as the
// command line would.
func buildConfig(flags map[string]string) (*capture.Config, error) {
	o := &runOptions{}
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	addRunFlags(fs, o)
	keys := make([]string, 0, len(flags))
	for k := range flags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "dry-run" {
			return nil, errors.New("run flag dry-run: use capture campaign --dry-run")
		}
		fl := fs.Lookup(k)
		if fl == nil {
			return nil, fmt.Errorf("unknown run flag %q (use the names of capture run's flags)", k)
		}
		if fl.Value.Type() == "stringArray" {
			// Lists arrive joined by capture.ListSep; each element is one value.
			for _, v := range strings.Split(flags[k], capture.ListSep) {
				if err := fs.Set(k, v); err != nil {
					return nil, fmt.Errorf("run flag %s: %w", k, err)
				}
			}
			continue
		}
		if strings.Contains(flags[k], capture.ListSep) {
			return nil, fmt.Errorf("run flag %s takes one value, not a list", k)
		}
		if err := fs.Set(k, flags[k]); err != nil {
			return nil, fmt.Errorf("run flag %s=%q: %w", k, flags[k], err)
		}
	}
	return o.config(fs)
}

// hasRunFlag reports whether `capture run` defines a flag.
func hasRunFlag(name string) bool {
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	addRunFlags(fs, &runOptions{})
	return fs.Lookup(name) != nil
}
