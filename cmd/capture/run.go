package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"kvbench/capture"
)

func newRunCmd() *cobra.Command {
	var (
		cfg        capture.Config
		longRange  string
		seed       uint64
		apiKeyEnv  string
		reqTimeout float64
		resolveTO  float64
		resolvePo  float64
		dryRun     bool
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run one scenario and write a run bundle",
		Args:  cobra.NoArgs,
		Example: `  capture run --base-url http://127.0.0.1:8000 --kv-mode cpu_disk \
    --scenario standard --prompt-set short --requests 64 --warmup 8 --concurrency 4 --stream`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lr, err := capture.ParseRange(longRange)
			if err != nil {
				return usageErr("--long-range: %v", err)
			}
			cfg.LongRange = lr
			cfg.RequestSeed = seed
			cfg.RequestTimeout = seconds(reqTimeout)
			cfg.ModelResolveTimeout = seconds(resolveTO)
			cfg.ModelResolvePoll = seconds(resolvePo)
			if apiKeyEnv != "" {
				cfg.APIKey = os.Getenv(apiKeyEnv)
			}
			cfg.Flags = flagValues(cmd.Flags())
			if err := cfg.Validate(); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			if dryRun {
				plan, err := capture.BuildPlan(&cfg)
				if err != nil {
					return &exitError{code: exitUsage, err: err}
				}
				plan.Print(cmd.OutOrStdout())
				return nil
			}
			out, err := capture.Run(cmd.Context(), &cfg, cmd.ErrOrStderr())
			if err != nil {
				return err
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
				return &exitError{code: exitInterrupted}
			case !m.Valid:
				fmt.Fprintf(w, "INVALID: %s\n", strings.Join(m.InvalidReasons, "; "))
				return &exitError{code: exitInvalid}
			}
			fmt.Fprintln(w, "valid: yes")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.BaseURL, "base-url", "http://127.0.0.1:8000", "OpenAI-compatible server base URL")
	f.StringVar(&cfg.Model, "model", "", "model name (default: the first model /v1/models lists)")
	f.StringVar(&cfg.KVMode, "kv-mode", "", "KV offload mode of the server: off, cpu_only, cpu_disk (implies --tier-mode)")
	f.StringVar(&cfg.TierMode, "tier-mode", "", "tier mode of the server: B0, B1, B2 (implies --kv-mode)")
	f.StringVar(&cfg.Scenario, "scenario", "standard", "scenario: "+strings.Join(capture.Scenarios, ", "))
	f.StringVar(&cfg.PromptSet, "prompt-set", "short", "prompt set: short, long, mixed")
	f.StringVar(&longRange, "long-range", "6000:7600", "token range MIN:MAX of long prompts")
	f.IntVar(&cfg.Requests, "requests", 64, "measured requests")
	f.IntVar(&cfg.Warmup, "warmup", 8, "warmup requests (phase warmup, never in statistics)")
	f.IntVar(&cfg.Concurrency, "concurrency", 4, "concurrent requests (closed loop)")
	f.IntVar(&cfg.MaxTokens, "max-tokens", 256, "max_tokens of each request")
	f.Float64Var(&cfg.Temperature, "temperature", 0, "sampling temperature")
	f.Float64Var(&cfg.TopP, "top-p", 1, "nucleus sampling top_p")
	f.Uint64Var(&seed, "request-seed", 1337, "seed of the deterministic prompt sets")
	f.StringArrayVar(&cfg.Stop, "stop", nil, "stop sequence (repeatable)")
	f.BoolVar(&cfg.Stream, "stream", false, "stream responses (SSE); TTFT is the first non-empty token")
	f.StringVar(&cfg.RunID, "run-id", "", "run id and bundle directory name (default: scenario + UTC stamp)")
	f.StringVar(&cfg.ResultsDir, "results-dir", "results", "directory that receives run bundles")
	f.StringVar(&apiKeyEnv, "api-key-env", "OPENAI_API_KEY", "environment variable holding the API key (never stored)")
	f.Float64Var(&reqTimeout, "request-timeout-s", 300, "per-request timeout in seconds (0: none)")
	f.Float64Var(&resolveTO, "model-resolve-timeout-s", 10, "how long to wait for the server to list a model")
	f.Float64Var(&resolvePo, "model-resolve-poll-s", 1, "poll interval while resolving the model")
	f.Float64Var(&cfg.MaxErrorRate, "max-error-rate", 0.05, "error rate above which the run is invalid")
	f.BoolVar(&cfg.StoreResponses, "store-responses", false, "keep response text in the requests table")
	f.BoolVar(&dryRun, "dry-run", false, "print the plan and exit without sending")
	return cmd
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// flagValues records every flag's resolved value for the manifest.
func flagValues(fs *pflag.FlagSet) map[string]string {
	m := map[string]string{}
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Name == "help" {
			return
		}
		m[f.Name] = f.Value.String()
	})
	return m
}
