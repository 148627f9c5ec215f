package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"kvbench/capture"
	"kvbench/internal/cli"
)

func newRecoverCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "recover RUN_DIR...",
		Short: "Turn a crashed run bundle (capture killed, out of memory, disk full) into a normal, invalid bundle",
		Long: `Turn a crashed run bundle into a normal bundle: every table is compacted from the part
files capture made durable while the run went on, temporary files are removed, and a
manifest is written from the run's journal with valid false, the reason "recovered after
crash", the phases as far as they are known and the row counts. analyze lists a crashed
bundle as skipped until it is recovered. Running it again changes nothing; a complete
bundle, or one whose capture is still running, is refused.`,
		Example: "  capture recover results/standard_20250101T120000.000Z_3fa9",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cli.Usage("recover needs at least one RUN_DIR")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			var errs []error
			for _, dir := range args {
				rec, err := capture.Recover(dir)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				m := rec.Manifest
				if rec.Already {
					fmt.Fprintf(w, "%s: already recovered; nothing changed\n", dir)
					continue
				}
				var phases []string
				for _, p := range m.Phases {
					phases = append(phases, fmt.Sprintf("%s %d", p.Name, p.Requests))
				}
				fmt.Fprintf(w, "%s: recovered %d request rows (phases: %s); manifest written, valid: false (%s)\n",
					dir, m.Tables["requests"].Rows, strings.Join(phases, ", "), capture.ReasonRecovered)
			}
			switch {
			case len(errs) == 0:
				return nil
			case len(errs) == 1 && errors.Is(errs[0], capture.ErrNothingToRecover):
				return cli.Exit(cli.ExitUsage, errs[0])
			}
			return errors.Join(errs...)
		},
	}
}
