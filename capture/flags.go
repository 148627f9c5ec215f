package capture

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"kvbench/capture/telemetry"
	"kvbench/results"
)

// RunFlags is the one flag table of `capture run`. The command registers
// it on its flag set; a campaign registers it on a flag set of its own
// and sets each run's flags by name. Either way Config turns the values
// into the same validated Config, telemetry included.
type RunFlags struct {
	cfg       Config
	longRange string
	apiKeyEnv string
	slo       []string

	// Flags of the command rather than of the run: a campaign refuses
	// dry-run and has its own progress display.
	DryRun     bool
	NoProgress bool
	CPUProfile string
}

// Register defines every flag of `capture run` on fs.
func (f *RunFlags) Register(fs *pflag.FlagSet) {
	f.registerRun(fs)
	f.registerScenarios(fs)
	f.registerTrace(fs)
	f.registerTelemetry(fs)
	fs.BoolVar(&f.DryRun, "dry-run", false, "print the plan and exit without sending")
	fs.BoolVar(&f.NoProgress, "no-progress", false, "no live progress display")
	fs.StringVar(&f.CPUProfile, "cpuprofile", "", "write a Go CPU profile of the client to this file")
	fs.MarkHidden("cpuprofile")
}

// Config resolves the flag values into a validated configuration. Every
// error is the user's (a usage error).
func (f *RunFlags) Config(fs *pflag.FlagSet) (*Config, error) {
	cfg := f.cfg
	lr, err := ParseRange(f.longRange)
	if err != nil {
		return nil, fmt.Errorf("--long-range: %v", err)
	}
	cfg.LongRange = lr
	if cfg.SLO, err = results.ParseSLO(f.slo...); err != nil {
		return nil, err
	}
	if f.apiKeyEnv != "" {
		cfg.APIKey = os.Getenv(f.apiKeyEnv)
	}
	cfg.Flags = flagValues(fs)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.loadTrace(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// registerRun defines the flags every scenario uses.
func (f *RunFlags) registerRun(fs *pflag.FlagSet) {
	c := &f.cfg
	fs.StringVar(&c.BaseURL, "base-url", "http://127.0.0.1:8000", "OpenAI-compatible server base URL")
	fs.StringVar(&c.Model, "model", "", "model name (default: the first model /v1/models lists)")
	fs.StringVar(&c.KVMode, "kv-mode", "", "KV offload mode of the server: off, cpu_only, cpu_disk (implies --tier-mode)")
	fs.StringVar(&c.TierMode, "tier-mode", "", "tier mode of the server: B0, B1, B2 (implies --kv-mode)")
	fs.StringVar(&c.Scenario, "scenario", ScenarioStandard, "scenario: "+strings.Join(Scenarios, ", "))
	fs.StringVar(&c.PromptSet, "prompt-set", "short", "prompt set: short, long, mixed (eviction and rehydrate scenarios use long)")
	fs.StringVar(&f.longRange, "long-range", "6000:7600", "token range MIN:MAX of long prompts")
	fs.IntVar(&c.Requests, "requests", 64, "measured requests (with --duration: the cap; 0 = no cap)")
	DurationVar(fs, &c.Duration, "duration", 0, "standard: end the measure phase after this long, e.g. 10m (no request starts after it; those in flight finish)")
	fs.IntVar(&c.Warmup, "warmup", 8, "warmup requests (phase warmup, never in statistics)")
	fs.IntVar(&c.Concurrency, "concurrency", 4, "concurrent requests (closed loop)")
	fs.IntVar(&c.MaxTokens, "max-tokens", 256, "max_tokens of each request")
	fs.Float64Var(&c.Temperature, "temperature", 0, "sampling temperature")
	fs.Float64Var(&c.TopP, "top-p", 1, "nucleus sampling top_p")
	fs.Uint64Var(&c.RequestSeed, "request-seed", DefaultRequestSeed, "seed of the deterministic prompt sets")
	fs.StringArrayVar(&c.Stop, "stop", nil, "stop sequence (repeatable)")
	fs.StringArrayVar(&f.slo, "slo", nil, "service-level objective recorded with the run for goodput, e.g. ttft=500ms, itl=50ms, e2e=20s (repeatable; analyze --slo overrides)")
	fs.BoolVar(&c.Stream, "stream", true, "stream responses (SSE); TTFT is the first non-empty token (--stream=false: TTFT is the first byte of the whole response)")
	fs.StringVar(&c.RunID, "run-id", "", "run id and bundle directory name (default: scenario, UTC stamp to the millisecond, random suffix)")
	fs.StringVar(&c.ResultsDir, "results-dir", "results", "directory that receives run bundles")
	fs.StringVar(&f.apiKeyEnv, "api-key-env", "OPENAI_API_KEY", "environment variable holding the API key (never stored)")
	DurationVar(fs, &c.RequestTimeout, "request-timeout", 300*time.Second, "per-request timeout (0: none)")
	DurationVar(fs, &c.ModelResolveTimeout, "model-resolve-timeout", 10*time.Second, "how long to wait for the server to list a model")
	DurationVar(fs, &c.ModelResolvePoll, "model-resolve-poll", time.Second, "poll interval while resolving the model")
	DurationAlias(fs, &c.RequestTimeout, "request-timeout-s", "request-timeout", time.Second)
	DurationAlias(fs, &c.ModelResolveTimeout, "model-resolve-timeout-s", "model-resolve-timeout", time.Second)
	DurationAlias(fs, &c.ModelResolvePoll, "model-resolve-poll-s", "model-resolve-poll", time.Second)
	fs.Float64Var(&c.MaxErrorRate, "max-error-rate", 0.05, "error rate above which the run is invalid")
	fs.BoolVar(&c.StoreResponses, "store-responses", false, "keep response text in the requests table")
	fs.Float64Var(&c.RequestRate, "request-rate", 0, "open-loop arrival rate in requests/s (0: closed loop at --concurrency)")
	fs.Float64Var(&c.Burstiness, "burstiness", 1, "gamma shape of open-loop gaps: 1 Poisson, <1 burstier, >1 smoother")
	DurationVar(fs, &c.MaxScheduleLag, "max-schedule-lag", 100*time.Millisecond, "open loop: the run is invalid when over 1% of requests start later than this")
	DurationAlias(fs, &c.MaxScheduleLag, "max-schedule-lag-ms", "max-schedule-lag", time.Millisecond)
	fs.IntVar(&c.MaxNumTokens, "max-num-tokens", 8192, "engine token budget: prompt + max_tokens above it is not sent (0: no check)")
	fs.BoolVar(&c.AllowPreflightSkip, "allow-preflight-skip", false, "keep the run valid when requests were skipped by the preflight check")
	fs.BoolVar(&c.Calibrate, "calibrate", true, "fit prompt words to server tokens with two probe requests before the run")
	DurationVar(fs, &c.DurableInterval, "durable-interval", results.DefaultDurableInterval,
		"a finished request is in a closed, fsynced part file at most this long after it ends, so a kill loses at most this much (0: tables written at the end only)")
	fs.IntVar(&c.MaxConsecutiveFailures, "max-consecutive-failures", 20, "stop the run as server unreachable after this many connection failures in a row with no success (0: never)")
	DurationVar(fs, &c.UnreachableAfter, "unreachable-after", 10*time.Second, "stop the run as server unreachable when requests have failed with no success for this long (0: never)")
}

// registerScenarios defines the flags of one scenario each.
func (f *RunFlags) registerScenarios(fs *pflag.FlagSet) {
	c := &f.cfg
	fs.IntVar(&c.EvictionARequests, "eviction-a-requests", 24, "eviction_replay: requests of set A (populate, then replay)")
	fs.IntVar(&c.EvictionBRequests, "eviction-b-requests", 48, "eviction_replay: requests of set B (thrash)")
	fs.IntVar(&c.EvictionAConcurrency, "eviction-a-concurrency", 4, "eviction_replay: concurrency of populate and replay")
	fs.IntVar(&c.EvictionBConcurrency, "eviction-b-concurrency", 8, "eviction_replay: concurrency of thrash")
	fs.StringVar(&c.ReusePromptSet, "reuse-prompt-set", "short", "reuse_verify: prompt set replayed")
	fs.IntVar(&c.ReuseRepeatCount, "reuse-repeat-count", 3, "reuse_verify: how many times the set is replayed")
	fs.IntVar(&c.CopilotSessions, "copilot-sessions", 4, "local_copilot_burst: sessions sharing the repository context")
	fs.IntVar(&c.CopilotBursts, "copilot-bursts", 6, "local_copilot_burst: bursts per run")
	fs.IntVar(&c.CopilotBurstSize, "copilot-burst-size", 2, "local_copilot_burst: requests per session per burst")
	DurationVar(fs, &c.CopilotThink, "copilot-think", 500*time.Millisecond, "local_copilot_burst: think time between bursts")
	DurationAlias(fs, &c.CopilotThink, "copilot-think-ms", "copilot-think", time.Millisecond)
	fs.IntVar(&c.CopilotEditTokens, "copilot-edit-tokens", 64, "local_copilot_burst: tokens of the per-request edit after the shared context")
	fs.IntVar(&c.RehydratePopulateRequests, "rehydrate-populate-requests", 24, "rehydrate_replay: requests of set A")
	fs.IntVar(&c.RehydrateThrashRequests, "rehydrate-thrash-requests", 48, "rehydrate_replay: requests of set B (thrash)")
	fs.IntVar(&c.RehydratePopulateConcurrency, "rehydrate-populate-concurrency", 2, "rehydrate_replay: populate concurrency")
	fs.IntVar(&c.RehydrateThrashConcurrency, "rehydrate-thrash-concurrency", 2, "rehydrate_replay: thrash concurrency (the fixed pressure)")
	fs.IntVar(&c.RehydrateReplayConcurrency, "rehydrate-replay-concurrency", 1, "rehydrate_replay: replay concurrency (the swept axis)")
	fs.IntVar(&c.RehydrateBaselineConcurrency, "rehydrate-baseline-replay-concurrency", 1, "rehydrate_replay: baseline replay concurrency")
}

// registerTelemetry defines the flags of the samplers: Prometheus
// scrapes, OS I/O, NVMe health, cache-directory churn, GPU and logs.
func (f *RunFlags) registerTelemetry(fs *pflag.FlagSet) {
	t := &f.cfg.Telemetry
	fs.StringVar(&t.SystemURL, "metrics-system-url", "", "Dynamo worker metrics URL (DYN_SYSTEM_PORT), e.g. http://127.0.0.1:8081/metrics")
	fs.StringVar(&t.KVBMURL, "metrics-kvbm-url", "", "KVBM metrics URL (DYN_KVBM_METRICS_PORT), e.g. http://127.0.0.1:6880/metrics; the run is invalid without KVBM metrics from it")
	fs.StringVar(&t.FrontendURL, "metrics-frontend-url", "", "Dynamo frontend metrics URL, e.g. http://127.0.0.1:8000/metrics")
	fs.StringArrayVar(&t.ExtraURLs, "metrics-url", nil, "another metrics endpoint as NAME=URL (repeatable)")
	DurationVar(fs, &t.MetricsInterval, "metrics-interval", time.Second, "scrape interval between phase boundaries (0: boundaries only)")
	DurationVar(fs, &t.MetricsTimeout, "metrics-timeout", telemetry.DefaultScrapeTimeout, "timeout of one scrape")
	fs.BoolVar(&t.Snapshot, "capture-metrics-snapshot", false, "keep the raw exposition of every boundary scrape and a metric inventory per endpoint")
	fs.BoolVar(&t.AllowMissingKVBM, "allow-missing-kvbm-metrics", false, "keep the run valid when --metrics-kvbm-url yields no KVBM metrics")
	fs.StringArrayVar(&t.IODevices, "io-device", nil, "block device to sample from /proc/diskstats, e.g. nvme0n1 (repeatable; default: the disk holding --kvbm-cache-dir)")
	fs.IntSliceVar(&t.IOPIDs, "io-pid", nil, "process whose /proc/<pid>/io is sampled (repeatable)")
	fs.StringVar(&t.Container, "container-name", "", "engine container: its main process and cgroup io.stat are sampled; its logs are kept with --collect-telemetry")
	fs.StringVar(&t.CacheDir, "kvbm-cache-dir", "", "KVBM disk cache directory (DYN_KVBM_DISK_CACHE_DIR): snapshotted at phase boundaries; its disk is sampled and its NVMe health recorded")
	DurationVar(fs, &t.IOInterval, "io-interval", time.Second, "I/O sampling interval between phase boundaries (0: boundaries only)")
	fs.BoolVar(&t.Collect, "collect-telemetry", false, "also sample nvidia-smi and keep container, NATS and cuFile logs under telemetry/")
	fs.StringVar(&t.NATSContainer, "nats-container-name", "bench-nats", "NATS container whose logs --collect-telemetry keeps")
	DurationVar(fs, &t.GPUInterval, "gpu-interval", time.Second, "nvidia-smi sampling interval with --collect-telemetry")
}

// flagValues records every flag's resolved value for the manifest.
func flagValues(fs *pflag.FlagSet) map[string]string {
	m := map[string]string{}
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Name == "help" || isAlias(f) {
			return
		}
		m[f.Name] = f.Value.String()
	})
	return m
}
