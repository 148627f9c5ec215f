package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"kvbench/campaign"
	"kvbench/internal/cli"
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
the rest; earlier attempts are moved to .superseded/, never deleted (a run whose capture was
killed is recovered first). An arm with retries: N restarts its server and repeats a run whose
server was lost, up to N times.`,
		Example: `  capture campaign examples/sim-demo.yaml
  capture campaign examples/phase60.yaml --dry-run
  capture campaign validate examples/mode-compare.yaml`,
		Args:              onePlan("campaign"),
		ValidArgsFunction: planFiles,
		RunE: func(cmd *cobra.Command, args []string) error {
			plan, runs, err := loadSchedule(args[0])
			if err != nil {
				return err
			}
			if dryRun {
				campaign.ResolveStatus(plan, runs)
				campaign.PrintSchedule(cmd.OutOrStdout(), plan, runs)
				return nil
			}
			return runCampaign(cmd, plan, runs, noProgress)
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the full schedule (with resume status) and exit")
	cmd.Flags().BoolVar(&noProgress, "no-progress", false, "no live progress display")
	cmd.AddCommand(&cobra.Command{
		Use:               "validate PLAN...",
		Short:             "Check campaign plans without touching the network",
		Example:           "  capture campaign validate examples/*.yaml",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: planFiles,
		RunE:              validatePlans,
	})
	return cmd
}

// validatePlans checks every plan given and reports each: "valid" on
// stdout, or the error on stderr; the exit code is a usage error when any
// plan is not valid.
func validatePlans(cmd *cobra.Command, args []string) error {
	bad := 0
	for _, path := range args {
		plan, runs, err := campaign.LoadSchedule(path)
		if err != nil {
			bad++
			fmt.Fprintf(cmd.ErrOrStderr(), "capture: %v\n", err)
			continue
		}
		for _, w := range plan.Warnings(runs) {
			fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s: %s\n", path, w)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "plan %s is valid: campaign %s, %d arms, %d runs\n", path, plan.Campaign, len(plan.Arms), len(runs))
	}
	switch {
	case bad == 0:
		return nil
	case len(args) == 1:
		return cli.Exit(cli.ExitUsage, nil)
	}
	return cli.Exit(cli.ExitUsage, fmt.Errorf("%d of %d plans are not valid", bad, len(args)))
}

// onePlan accepts exactly one PLAN argument.
func onePlan(name string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != 1 {
			return cli.Usage("%s needs exactly one PLAN file", name)
		}
		return nil
	}
}

// loadSchedule loads a plan and checks every run's flags; a bad plan is
// a usage error.
func loadSchedule(path string) (*campaign.Plan, []campaign.ScheduledRun, error) {
	plan, runs, err := campaign.LoadSchedule(path)
	if err != nil {
		return nil, nil, cli.Exit(cli.ExitUsage, err)
	}
	return plan, runs, nil
}

// runCampaign executes the schedule and reports it; the exit code says
// whether every run is valid.
func runCampaign(cmd *cobra.Command, plan *campaign.Plan, runs []campaign.ScheduledRun, noProgress bool) error {
	for _, w := range plan.Warnings(runs) {
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
	}
	ctx, release := abortOnSecondSignal(cmd.Context())
	defer release()
	prog := newProgress(cmd.ErrOrStderr(), noProgress)
	exe, _ := os.Executable()
	res, err := campaign.Execute(ctx, plan, runs, campaign.Options{Executable: exe, Log: cmd.ErrOrStderr(), Progress: prog})
	prog.Close()
	if res != nil {
		campaign.PrintSchedule(cmd.OutOrStdout(), plan, res.Runs)
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
}
