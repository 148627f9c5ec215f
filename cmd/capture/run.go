package main

import (
	"fmt"
	"kvbench/internal/cli"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"kvbench/capture"
)

// runOptions holds the flags of `capture run` that need converting before
// they become a capture.Config.
type runOptions struct {
	cfg        capture.Config
	longRange  string
	seed       uint64
	apiKeyEnv  string
	reqTimeout float64
	resolveTO  float64
	resolvePo  float64
	dryRun     bool
	thinkMs    float64
	maxLagMs   float64
	noProgress bool
	cpuProfile string
	// hooks run once the configuration is resolved; telemetry adds its
	// samplers to the configuration here.
	hooks []func(*capture.Config) error
}

// config resolves the flags into a validated configuration. Errors are
// usage errors.
func (o *runOptions) config(fs *pflag.FlagSet) (*capture.Config, error) {
	cfg := o.cfg
	lr, err := capture.ParseRange(o.longRange)
	if err != nil {
		return nil, cli.Usage("--long-range: %v", err)
	}
	cfg.LongRange = lr
	cfg.RequestSeed = o.seed
	cfg.RequestTimeout = seconds(o.reqTimeout)
	cfg.ModelResolveTimeout = seconds(o.resolveTO)
	cfg.ModelResolvePoll = seconds(o.resolvePo)
	cfg.CopilotThink = seconds(o.thinkMs / 1000)
	cfg.MaxScheduleLag = seconds(o.maxLagMs / 1000)
	if o.apiKeyEnv != "" {
		cfg.APIKey = os.Getenv(o.apiKeyEnv)
	}
	cfg.Flags = flagValues(fs)
	if err := cfg.Validate(); err != nil {
		return nil, cli.Exit(cli.ExitUsage, err)
	}
	for _, h := range o.hooks {
		if err := h(&cfg); err != nil {
			return nil, cli.Exit(cli.ExitUsage, err)
		}
	}
	return &cfg, nil
}

func newRunCmd() *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run one scenario and write a run bundle",
		Args:  cobra.NoArgs,
		Example: `  capture run --base-url http://127.0.0.1:8000 --kv-mode cpu_disk \
    --scenario standard --prompt-set short --requests 64 --warmup 8 --concurrency 4 --stream`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := o.config(cmd.Flags())
			if err != nil {
				return err
			}
			if o.dryRun {
				plan, err := capture.BuildPlan(cfg)
				if err != nil {
					return cli.Exit(cli.ExitUsage, err)
				}
				plan.Print(cmd.OutOrStdout())
				return nil
			}
			if o.cpuProfile != "" {
				f, err := os.Create(o.cpuProfile)
				if err != nil {
					return fmt.Errorf("--cpuprofile: %w", err)
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return fmt.Errorf("--cpuprofile: %w", err)
				}
				defer pprof.StopCPUProfile()
			}
			prog := newProgress(cmd.ErrOrStderr(), o.noProgress)
			out, err := capture.Run(cmd.Context(), cfg, cmd.ErrOrStderr(), prog)
			prog.Close()
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
				return cli.Exit(cli.ExitInterrupted, nil)
			case !m.Valid:
				fmt.Fprintf(w, "INVALID: %s\n", strings.Join(m.InvalidReasons, "; "))
				return cli.Exit(cli.ExitInvalid, nil)
			}
			fmt.Fprintln(w, "valid: yes")
			return nil
		},
	}
	addRunFlags(cmd.Flags(), o)
	return cmd
}

// addRunFlags defines every flag of `capture run`; campaigns use the same
// names.
func addRunFlags(f *pflag.FlagSet, o *runOptions) {
	cfg := &o.cfg
	f.StringVar(&cfg.BaseURL, "base-url", "http://127.0.0.1:8000", "OpenAI-compatible server base URL")
	f.StringVar(&cfg.Model, "model", "", "model name (default: the first model /v1/models lists)")
	f.StringVar(&cfg.KVMode, "kv-mode", "", "KV offload mode of the server: off, cpu_only, cpu_disk (implies --tier-mode)")
	f.StringVar(&cfg.TierMode, "tier-mode", "", "tier mode of the server: B0, B1, B2 (implies --kv-mode)")
	f.StringVar(&cfg.Scenario, "scenario", "standard", "scenario: "+strings.Join(capture.Scenarios, ", "))
	f.StringVar(&cfg.PromptSet, "prompt-set", "short", "prompt set: short, long, mixed (eviction and rehydrate scenarios use long)")
	f.StringVar(&o.longRange, "long-range", "6000:7600", "token range MIN:MAX of long prompts")
	f.IntVar(&cfg.Requests, "requests", 64, "measured requests")
	f.IntVar(&cfg.Warmup, "warmup", 8, "warmup requests (phase warmup, never in statistics)")
	f.IntVar(&cfg.Concurrency, "concurrency", 4, "concurrent requests (closed loop)")
	f.IntVar(&cfg.MaxTokens, "max-tokens", 256, "max_tokens of each request")
	f.Float64Var(&cfg.Temperature, "temperature", 0, "sampling temperature")
	f.Float64Var(&cfg.TopP, "top-p", 1, "nucleus sampling top_p")
	f.Uint64Var(&o.seed, "request-seed", 1337, "seed of the deterministic prompt sets")
	f.StringArrayVar(&cfg.Stop, "stop", nil, "stop sequence (repeatable)")
	f.BoolVar(&cfg.Stream, "stream", false, "stream responses (SSE); TTFT is the first non-empty token")
	f.StringVar(&cfg.RunID, "run-id", "", "run id and bundle directory name (default: scenario + UTC stamp)")
	f.StringVar(&cfg.ResultsDir, "results-dir", "results", "directory that receives run bundles")
	f.StringVar(&o.apiKeyEnv, "api-key-env", "OPENAI_API_KEY", "environment variable holding the API key (never stored)")
	f.Float64Var(&o.reqTimeout, "request-timeout-s", 300, "per-request timeout in seconds (0: none)")
	f.Float64Var(&o.resolveTO, "model-resolve-timeout-s", 10, "how long to wait for the server to list a model")
	f.Float64Var(&o.resolvePo, "model-resolve-poll-s", 1, "poll interval while resolving the model")
	f.Float64Var(&cfg.MaxErrorRate, "max-error-rate", 0.05, "error rate above which the run is invalid")
	f.BoolVar(&cfg.StoreResponses, "store-responses", false, "keep response text in the requests table")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the plan and exit without sending")
	f.Float64Var(&cfg.RequestRate, "request-rate", 0, "open-loop arrival rate in requests/s (0: closed loop at --concurrency)")
	f.Float64Var(&cfg.Burstiness, "burstiness", 1, "gamma shape of open-loop gaps: 1 Poisson, <1 burstier, >1 smoother")
	f.Float64Var(&o.maxLagMs, "max-schedule-lag-ms", 100, "open loop: the run is invalid when over 1% of requests start later than this")
	f.IntVar(&cfg.EvictionARequests, "eviction-a-requests", 24, "eviction_replay: requests of set A (populate, then replay)")
	f.IntVar(&cfg.EvictionBRequests, "eviction-b-requests", 48, "eviction_replay: requests of set B (thrash)")
	f.IntVar(&cfg.EvictionAConcurrency, "eviction-a-concurrency", 4, "eviction_replay: concurrency of populate and replay")
	f.IntVar(&cfg.EvictionBConcurrency, "eviction-b-concurrency", 8, "eviction_replay: concurrency of thrash")
	f.StringVar(&cfg.ReusePromptSet, "reuse-prompt-set", "short", "reuse_verify: prompt set replayed")
	f.IntVar(&cfg.ReuseRepeatCount, "reuse-repeat-count", 3, "reuse_verify: how many times the set is replayed")
	f.IntVar(&cfg.CopilotSessions, "copilot-sessions", 4, "local_copilot_burst: sessions sharing the repository context")
	f.IntVar(&cfg.CopilotBursts, "copilot-bursts", 6, "local_copilot_burst: bursts per run")
	f.IntVar(&cfg.CopilotBurstSize, "copilot-burst-size", 2, "local_copilot_burst: requests per session per burst")
	f.Float64Var(&o.thinkMs, "copilot-think-ms", 500, "local_copilot_burst: think time between bursts")
	f.IntVar(&cfg.CopilotEditTokens, "copilot-edit-tokens", 64, "local_copilot_burst: tokens of the per-request edit after the shared context")
	f.IntVar(&cfg.RehydratePopulateRequests, "rehydrate-populate-requests", 24, "rehydrate_replay: requests of set A")
	f.IntVar(&cfg.RehydrateThrashRequests, "rehydrate-thrash-requests", 48, "rehydrate_replay: requests of set B (thrash)")
	f.IntVar(&cfg.RehydratePopulateConcurrency, "rehydrate-populate-concurrency", 2, "rehydrate_replay: populate concurrency")
	f.IntVar(&cfg.RehydrateThrashConcurrency, "rehydrate-thrash-concurrency", 2, "rehydrate_replay: thrash concurrency (the fixed pressure)")
	f.IntVar(&cfg.RehydrateReplayConcurrency, "rehydrate-replay-concurrency", 1, "rehydrate_replay: replay concurrency (the swept axis)")
	f.IntVar(&cfg.RehydrateBaselineConcurrency, "rehydrate-baseline-replay-concurrency", 1, "rehydrate_replay: baseline replay concurrency")
	f.IntVar(&cfg.MaxNumTokens, "max-num-tokens", 8192, "engine token budget: prompt + max_tokens above it is not sent (0: no check)")
	f.BoolVar(&cfg.AllowPreflightSkip, "allow-preflight-skip", false, "keep the run valid when requests were skipped by the preflight check")
	f.BoolVar(&cfg.Calibrate, "calibrate", true, "fit prompt words to server tokens with two probe requests before the run")
	f.BoolVar(&o.noProgress, "no-progress", false, "no live progress display")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a Go CPU profile of the client to this file")
	f.MarkHidden("cpuprofile")
	tele := addTelemetryFlags(f)
	o.hooks = append(o.hooks, func(cfg *capture.Config) (err error) { cfg.Samplers, err = tele.samplers(cfg); return err })
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
