package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"kvbench/capture"
	"kvbench/sim"
)

// simFlags holds the values of `capture sim`'s flags.
type simFlags struct {
	listen, kvbmListen, systemListen string
	kvMode, model, preset            string
	timeScale                        float64
	seed                             uint64
	blockTokens                      int
	gpuBlocks, cpuBlocks, diskBlocks int
	cpuCacheGB, diskCacheGB          float64
	bytesPerToken                    int64
	diskCacheDir                     string
	diskBlockFileBytes               int
	disableDiskFilter                bool
	maxBatch, maxNumTokens           int
	hitRateWindow                    int
	groundTruth                      string

	costOverhead, costPrefillFloor, costPrefillPerToken time.Duration
	costOnboardG2, costOnboardG3                        time.Duration
	costDecodePerToken, costDecodePerSeq                time.Duration

	faults sim.Faults
}

// newSimCmd returns the `capture sim` command.
func newSimCmd() *cobra.Command {
	cmd, _ := simCommand()
	completeSimFlags(cmd)
	return cmd
}

// simCommand returns the command and the flag values it fills.
func simCommand() (*cobra.Command, *simFlags) {
	f := &simFlags{}
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run the simulated Dynamo + TRT-LLM + KVBM target",
		Long: `Run the simulated Dynamo + TRT-LLM + KVBM target: an OpenAI-compatible API
(/v1/models, /v1/completions, /health, /metrics with dynamo_frontend_*), a KVBM
metrics port (the 13 kvbm_* v1 families) and a system port (dynamo_component_*),
with a tiered KV cache model (G1 GPU, G2 host, G3 disk with real files) and a
stated cost model (see --preset and the --cost-* flags).

The first line on stdout is one JSON object with the bound addresses:
  {"event":"listening","api":"127.0.0.1:41234","kvbm":"127.0.0.1:41235",...}
Logs go to stderr. Port 0 picks a free port.

Tier sizes: --cpu-blocks/--disk-blocks win over --cpu-cache-gb/--disk-cache-gb,
which win over DYN_KVBM_{CPU,DISK}_CACHE_OVERRIDE_NUM_BLOCKS, which win over
DYN_KVBM_{CPU,DISK}_CACHE_GB (decimal GB / (bytes-per-token x block-tokens)).
DYN_KVBM_DISK_CACHE_DIR and DYN_KVBM_DISABLE_DISK_OFFLOAD_FILTER (true or 1)
are read too; flags win.

The disk tier writes one real file of --disk-block-file-bytes per block (64 KiB
by default, not the 4 MiB a real block holds, so a laptop is not filled) in a
directory it creates under --disk-cache-dir and removes on exit.`,
		Example: `  # B2 target on free ports, ten times faster than a Spark, with a ground-truth log
  capture sim --listen 127.0.0.1:0 --kvbm-listen 127.0.0.1:0 --system-listen 127.0.0.1:0 \
    --kv-mode cpu_disk --time-scale 0.1 --ground-truth truth.jsonl

  # near-zero costs and 5% of requests failing with 503
  capture sim --preset fast --fault-503 0.05

  # KVBM-style sizing through the environment
  DYN_KVBM_CPU_CACHE_GB=4 DYN_KVBM_DISK_CACHE_GB=16 capture sim --kv-mode cpu_disk`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSim(cmd, f)
		},
	}
	f.register(cmd.Flags(), sim.DefaultConfig())
	return cmd, f
}

// register defines the flags of `capture sim` with the defaults of d.
func (f *simFlags) register(fs *pflag.FlagSet, d sim.Config) {
	fs.StringVar(&f.listen, "listen", d.APIAddr, "API and frontend metrics address (port 0 = free port)")
	fs.StringVar(&f.kvbmListen, "kvbm-listen", d.KVBMAddr, "KVBM metrics address (DYN_KVBM_METRICS_PORT)")
	fs.StringVar(&f.systemListen, "system-listen", d.SystemAddr, "worker system metrics address (DYN_SYSTEM_PORT)")
	fs.StringVar(&f.kvMode, "kv-mode", string(d.KVMode), "KV tiers: off (G1), cpu_only (G1+G2) or cpu_disk (G1+G2+G3)")
	fs.StringVar(&f.model, "model", d.Model, "model id served")
	fs.StringVar(&f.preset, "preset", sim.DefaultPresetID, fmt.Sprintf("cost preset: %v", sim.PresetNames()))
	fs.Float64Var(&f.timeScale, "time-scale", d.TimeScale, "multiply every simulated cost (0.1 = ten times faster)")
	fs.Uint64Var(&f.seed, "seed", d.Seed, "seed of fault decisions and completion ids")
	fs.IntVar(&f.blockTokens, "block-tokens", d.BlockTokens, "tokens per KV block (TRT-LLM tokens_per_block)")
	fs.IntVar(&f.gpuBlocks, "gpu-blocks", d.GPUBlocks, "G1 (GPU pool) capacity in blocks")
	fs.IntVar(&f.cpuBlocks, "cpu-blocks", d.CPUBlocks, "G2 (host) capacity in blocks")
	fs.IntVar(&f.diskBlocks, "disk-blocks", d.DiskBlocks, "G3 (disk) capacity in blocks")
	fs.Float64Var(&f.cpuCacheGB, "cpu-cache-gb", 0, "G2 capacity in decimal GB (like DYN_KVBM_CPU_CACHE_GB)")
	fs.Float64Var(&f.diskCacheGB, "disk-cache-gb", 0, "G3 capacity in decimal GB (like DYN_KVBM_DISK_CACHE_GB)")
	fs.Int64Var(&f.bytesPerToken, "bytes-per-token", d.BytesPerToken, "KV bytes per token (8B model: 131072)")
	fs.StringVar(&f.diskCacheDir, "disk-cache-dir", "", "parent of the G3 directory (default: system temp dir)")
	fs.IntVar(&f.diskBlockFileBytes, "disk-block-file-bytes", d.DiskBlockFileBytes, "bytes of the real file written per G3 block")
	fs.BoolVar(&f.disableDiskFilter, "disable-disk-filter", false, "offload every host block to disk, not only blocks seen twice")
	fs.IntVar(&f.maxBatch, "max-batch", d.MaxBatch, "sequences decoded together; the rest queue FIFO")
	fs.IntVar(&f.maxNumTokens, "max-num-tokens", d.MaxNumTokens, "prompt + max_tokens above this is rejected with 400")
	fs.IntVar(&f.hitRateWindow, "hit-rate-window", d.HitRateWindow, "requests in the KVBM hit-rate window")
	fs.StringVar(&f.groundTruth, "ground-truth", "", "write one JSON line per finished request to this file")
	f.registerCosts(fs)
	f.registerFaults(fs)
}

// registerCosts defines the flags that override the cost preset.
func (f *simFlags) registerCosts(fs *pflag.FlagSet) {
	capture.DurationVar(fs, &f.costOverhead, "cost-overhead", 0, "preset override: fixed cost added to every prefill")
	capture.DurationVar(fs, &f.costPrefillFloor, "cost-prefill-floor", 0, "preset override: least time a prefill takes")
	capture.DurationVar(fs, &f.costPrefillPerToken, "cost-prefill-per-token", 0, "preset override: prefill cost per uncached token")
	capture.DurationVar(fs, &f.costOnboardG2, "cost-onboard-g2-per-token", 0, "preset override: onboarding cost per token from host")
	capture.DurationVar(fs, &f.costOnboardG3, "cost-onboard-g3-per-token", 0, "preset override: onboarding cost per token from disk")
	capture.DurationVar(fs, &f.costDecodePerToken, "cost-decode-per-token", 0, "preset override: time between output tokens at batch 1")
	capture.DurationVar(fs, &f.costDecodePerSeq, "cost-decode-per-seq", 0, "preset override: inter-token time added per extra running sequence")
}

// registerFaults defines the fault-injection flags.
func (f *simFlags) registerFaults(fs *pflag.FlagSet) {
	fs.Float64Var(&f.faults.HTTP429, "fault-429", 0, "probability of answering 429")
	fs.Float64Var(&f.faults.HTTP500, "fault-500", 0, "probability of answering 500")
	fs.Float64Var(&f.faults.HTTP503, "fault-503", 0, "probability of answering 503")
	fs.Float64Var(&f.faults.Reset, "fault-reset", 0, "probability of a TCP reset halfway through the output")
	fs.Float64Var(&f.faults.Stall, "fault-stall", 0, "probability of a stall halfway through the output")
	fs.Float64Var(&f.faults.MalformedSSE, "fault-malformed-sse", 0, "probability of one SSE event with broken JSON")
	fs.Float64Var(&f.faults.SSEError, "fault-sse-error", 0, "probability of an SSE 'event: error' halfway, without [DONE]")
	fs.Float64Var(&f.faults.SlowFirstByte, "fault-slow-first-byte", 0, "probability of a slow first byte")
	capture.DurationVar(fs, &f.faults.SlowFirstByteDelay, "fault-slow-first-byte-delay", sim.DefaultSlowFirstByte, "wait of the slow-first-byte fault")
	capture.DurationVar(fs, &f.faults.StallFor, "fault-stall-for", 0, "length of a stall (0 = until the client leaves)")
	fs.Float64Var(&f.faults.KVBMDown, "fault-kvbm-down", 0, "probability a KVBM scrape gets its connection closed (1 = port not opened)")
	fs.Float64Var(&f.faults.KVBMGarbage, "fault-kvbm-garbage", 0, "probability a KVBM scrape returns garbage")
	fs.Float64Var(&f.faults.CorruptDiskOnboard, "corrupt-disk-onboard", 0,
		"fraction of requests onboarding from the disk tier that get wrong KV and answer differently (counters unchanged)")
}

// simConfig resolves the configuration: defaults, preset, environment
// (through getenv), then flags that were set.
func simConfig(fs *pflag.FlagSet, f *simFlags, getenv func(string) string) (sim.Config, error) {
	cfg := sim.DefaultConfig()
	mode, err := sim.ParseKVMode(f.kvMode)
	if err != nil {
		return cfg, fmt.Errorf("--kv-mode: %w", err)
	}
	costs, err := sim.Preset(f.preset)
	if err != nil {
		return cfg, fmt.Errorf("--preset: %w", err)
	}
	cfg.APIAddr, cfg.KVBMAddr, cfg.SystemAddr = f.listen, f.kvbmListen, f.systemListen
	cfg.KVMode, cfg.Model, cfg.Costs = mode, f.model, costs
	cfg.TimeScale, cfg.Seed = f.timeScale, f.seed
	cfg.BlockTokens, cfg.BytesPerToken = f.blockTokens, f.bytesPerToken
	cfg.GPUBlocks = f.gpuBlocks
	cfg.DiskBlockFileBytes = f.diskBlockFileBytes
	cfg.MaxBatch, cfg.MaxNumTokens, cfg.HitRateWindow = f.maxBatch, f.maxNumTokens, f.hitRateWindow
	cfg.Faults = f.faults
	if err := cfg.ApplyKVBMEnv(getenv); err != nil {
		return cfg, err
	}
	changed := fs.Changed
	if changed("cpu-cache-gb") {
		cfg.CPUBlocks = sim.BlocksFromGB(f.cpuCacheGB, cfg.BytesPerBlock())
	}
	if changed("disk-cache-gb") {
		cfg.DiskBlocks = sim.BlocksFromGB(f.diskCacheGB, cfg.BytesPerBlock())
	}
	if changed("cpu-blocks") {
		cfg.CPUBlocks = f.cpuBlocks
	}
	if changed("disk-blocks") {
		cfg.DiskBlocks = f.diskBlocks
	}
	if changed("disk-cache-dir") {
		cfg.DiskCacheDir = f.diskCacheDir
	}
	if changed("disable-disk-filter") {
		cfg.DisableDiskFilter = f.disableDiskFilter
	}
	for _, o := range []struct {
		name string
		dst  *time.Duration
		v    time.Duration
	}{
		{"cost-overhead", &cfg.Costs.Overhead, f.costOverhead},
		{"cost-prefill-floor", &cfg.Costs.PrefillFloor, f.costPrefillFloor},
		{"cost-prefill-per-token", &cfg.Costs.PrefillPerToken, f.costPrefillPerToken},
		{"cost-onboard-g2-per-token", &cfg.Costs.OnboardG2PerToken, f.costOnboardG2},
		{"cost-onboard-g3-per-token", &cfg.Costs.OnboardG3PerToken, f.costOnboardG3},
		{"cost-decode-per-token", &cfg.Costs.DecodePerToken, f.costDecodePerToken},
		{"cost-decode-per-seq", &cfg.Costs.DecodePerSeq, f.costDecodePerSeq},
	} {
		if changed(o.name) {
			*o.dst = o.v
		}
	}
	return cfg, cfg.Validate()
}

// listeningLine is the first line `capture sim` prints.
type listeningLine struct {
	Event  string `json:"event"`
	API    string `json:"api"`
	KVBM   string `json:"kvbm"`
	System string `json:"system"`
	PID    int    `json:"pid"`
	KVMode string `json:"kv_mode"`
	Model  string `json:"model"`
}

func runSim(cmd *cobra.Command, f *simFlags) error {
	cfg, err := simConfig(cmd.Flags(), f, os.Getenv)
	if err != nil {
		return err
	}
	cfg.Log = cmd.ErrOrStderr()
	var gt *os.File
	if f.groundTruth != "" {
		gt, err = os.Create(f.groundTruth)
		if err != nil {
			return fmt.Errorf("ground truth: %w", err)
		}
		defer gt.Close()
		cfg.GroundTruth = gt
	}
	srv, err := sim.New(cfg)
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	a := srv.Addrs()
	line, err := json.Marshal(listeningLine{
		Event: "listening", API: a.API, KVBM: a.KVBM, System: a.System,
		PID: os.Getpid(), KVMode: string(cfg.KVMode), Model: cfg.Model,
	})
	if err != nil {
		srv.Shutdown(cmd.Context())
		return fmt.Errorf("listening line: %w", err)
	}
	if _, err := fmt.Fprintf(cmd.OutOrStdout(), "%s\n", line); err != nil {
		srv.Shutdown(cmd.Context())
		return fmt.Errorf("write listening line: %w", err)
	}
	if err := srv.Run(cmd.Context()); err != nil {
		return err
	}
	if gt != nil {
		if err := gt.Close(); err != nil {
			return fmt.Errorf("ground truth: %w", err)
		}
	}
	return nil
}
