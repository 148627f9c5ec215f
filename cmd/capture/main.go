// Command capture is the command line of kvbench's first stage: it runs
// scenarios against an OpenAI-compatible server (or the built-in
// simulator, `capture sim`) and writes the run bundles analyze reads. It is
// a thin adapter over package capture (one run; its RunFlags are the flags
// of `capture run`), campaign (many runs), capture/telemetry (inventory)
// and sim; signals and exit codes come from internal/cli.
package main

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"kvbench/internal/cli"
	"kvbench/results"
)

func main() { cli.Main(run) }

// run is main without the process: tests call it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := &cobra.Command{
		Use:   "capture",
		Short: "Run KV-offload benchmark scenarios and write run bundles",
		Example: `  capture sim --kv-mode cpu_disk &   # the simulator on its default address, 127.0.0.1:8000
  capture run --base-url http://127.0.0.1:8000 --tier-mode B2 --scenario standard --requests 64`,
		Version: cli.Version(results.Version),
	}
	root.AddCommand(newRunCmd(), newSimCmd(), newTraceCmd(), newCampaignCmd(), newSmokeCmd(), newHealthCmd(), newInventoryCmd(), newRecoverCmd())
	return cli.Execute(ctx, root, args, stdout, stderr)
}
