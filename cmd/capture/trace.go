package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"kvbench/capture"
	"kvbench/internal/cli"
)

// newTraceCmd is `capture trace`: request traces for --scenario trace.
func newTraceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trace",
		Short: "Request traces for capture run --scenario trace",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newTraceGenCmd())
	return cmd
}

// newTraceGenCmd is `capture trace gen`: a synthetic, seeded trace.
func newTraceGenCmd() *cobra.Command {
	g := capture.TraceGen{}
	var out, suffix, output, reuse string
	cmd := &cobra.Command{
		Use:   "gen",
		Short: "Write a synthetic prefix-sharing trace (Mooncake JSONL format)",
		Long: `Write a synthetic trace: --sessions sessions, each with a shared prefix of
--prefix-blocks blocks (after --system-blocks blocks every request shares);
the first --sessions requests open one session each, and every later request
continues the session of the request d+1 places before it, d drawn from
--reuse-distance (the number of requests in between). Each request adds
--suffix-tokens tokens of its own and asks for --output-tokens tokens.
Arrivals are Poisson (--burstiness 1) or gamma at --rate requests per second.
Distributions: N, fixed:N, uniform:MIN:MAX, exp:MEAN. The same flags write the
same bytes.`,
		Example: `  capture trace gen --requests 300 --sessions 16 --prefix-blocks 4 \
    --reuse-distance uniform:16:32 --rate 20 --out trace.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			for _, d := range []struct {
				flag, s string
				dst     *capture.Dist
			}{{"--suffix-tokens", suffix, &g.SuffixTokens}, {"--output-tokens", output, &g.OutputTokens}, {"--reuse-distance", reuse, &g.ReuseDistance}} {
				if *d.dst, err = capture.ParseDist(d.s); err != nil {
					return cli.Exit(cli.ExitUsage, fmt.Errorf("%s: %v", d.flag, err))
				}
			}
			if err := g.Validate(); err != nil {
				return cli.Exit(cli.ExitUsage, err)
			}
			var w io.Writer = cmd.OutOrStdout()
			if out != "" && out != "-" {
				f, err := os.Create(out)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			return g.Write(w)
		},
	}
	fs := cmd.Flags()
	fs.IntVar(&g.Requests, "requests", 300, "requests in the trace")
	fs.IntVar(&g.Sessions, "sessions", 16, "sessions, each with its own shared prefix")
	fs.IntVar(&g.SystemBlocks, "system-blocks", 0, "blocks of a prefix every request shares (a system prompt)")
	fs.IntVar(&g.PrefixBlocks, "prefix-blocks", 4, "blocks of each session's shared prefix (its depth)")
	fs.IntVar(&g.BlockTokens, "block-tokens", capture.DefaultTraceBlockTokens, "tokens per hash id (replay with the same --trace-block-tokens)")
	fs.StringVar(&suffix, "suffix-tokens", "uniform:64:512", "tokens of each request after the shared prefix")
	fs.StringVar(&output, "output-tokens", "uniform:16:128", "output tokens of each request")
	fs.StringVar(&reuse, "reuse-distance", "uniform:16:32", "requests between two uses of a session")
	fs.Float64Var(&g.Rate, "rate", 10, "mean arrival rate in requests per second")
	fs.Float64Var(&g.Burstiness, "burstiness", 1, "gamma shape of the gaps: 1 Poisson, <1 burstier, >1 smoother")
	fs.Uint64Var(&g.Seed, "seed", capture.DefaultRequestSeed, "seed of the trace")
	fs.StringVar(&out, "out", "-", "output file (- : standard output)")
	return cmd
}
