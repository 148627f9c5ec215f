// Command capture runs kvbench scenarios against an OpenAI-compatible server
// (or the built-in simulator, `capture sim`) and writes run bundles. It is a
// thin adapter: flags, signals and exit codes live here; the work is done by
// package capture.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"kvbench/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: tests call it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := &cobra.Command{
		Use:   "capture",
		Short: "Run KV-offload benchmark scenarios and write run bundles",
		Example: `  capture sim --listen 127.0.0.1:0 &
  capture run --base-url http://127.0.0.1:8000 --tier-mode B2 --scenario standard --requests 64`,
	}
	root.AddCommand(newRunCmd(), newSimCmd(), newCampaignCmd(), newSmokeCmd(), newHealthCmd(), newInventoryCmd())
	return cli.Execute(ctx, root, args, stdout, stderr)
}
