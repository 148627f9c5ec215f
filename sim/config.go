package sim

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// KVMode selects which KV tiers exist.
type KVMode string

// The KV modes, named as the seed harness's --kv-mode.
const (
	KVModeOff     KVMode = "off"      // G1 only (B0)
	KVModeCPUOnly KVMode = "cpu_only" // G1 + G2 (B1)
	KVModeCPUDisk KVMode = "cpu_disk" // G1 + G2 + G3 (B2)
)

// ParseKVMode checks a --kv-mode value.
func ParseKVMode(s string) (KVMode, error) {
	switch m := KVMode(s); m {
	case KVModeOff, KVModeCPUOnly, KVModeCPUDisk:
		return m, nil
	}
	return "", fmt.Errorf("unknown kv mode %q (want off, cpu_only or cpu_disk)", s)
}

// KVBM environment variable names (Dynamo lib/runtime/src/config/
// environment_names.rs). The sim package never reads the environment:
// ApplyKVBMEnv takes a lookup function from the caller.
const (
	EnvCPUCacheGB           = "DYN_KVBM_CPU_CACHE_GB"
	EnvDiskCacheGB          = "DYN_KVBM_DISK_CACHE_GB"
	EnvCPUOverrideBlocks    = "DYN_KVBM_CPU_CACHE_OVERRIDE_NUM_BLOCKS"
	EnvDiskOverrideBlocks   = "DYN_KVBM_DISK_CACHE_OVERRIDE_NUM_BLOCKS"
	EnvDiskCacheDir         = "DYN_KVBM_DISK_CACHE_DIR"
	EnvDisableDiskFilter    = "DYN_KVBM_DISABLE_DISK_OFFLOAD_FILTER"
	DefaultModel            = "kvbench/sim-8b"
	DefaultAPIAddr          = "127.0.0.1:8000"
	DefaultKVBMAddr         = "127.0.0.1:6880"
	DefaultSystemAddr       = "127.0.0.1:8081"
	DefaultBlockTokens      = 32
	DefaultBytesPerToken    = 131072
	DefaultDiskFileBytes    = 64 << 10
	DefaultMaxNumTokens     = 8192
	DefaultHitRateWindow    = 1000
	DefaultSlowFirstByte    = 2 * time.Second
	defaultFilterMaxEntries = 1_000_000
)

// Faults gives the probability of each injected fault. Request faults are
// exclusive: each request draws one number and gets at most one fault, so
// their probabilities should sum to at most 1. Scrape faults are drawn per
// scrape of the KVBM endpoint.
type Faults struct {
	HTTP429       float64 `json:"http_429"`        // answer 429 at once
	HTTP500       float64 `json:"http_500"`        // answer 500 at once
	HTTP503       float64 `json:"http_503"`        // answer 503 at once
	Reset         float64 `json:"reset"`           // TCP reset halfway through the output
	Stall         float64 `json:"stall"`           // stop sending halfway through the output
	MalformedSSE  float64 `json:"malformed_sse"`   // one event with broken JSON halfway through
	SSEError      float64 `json:"sse_error"`       // `event: error` halfway through, no [DONE]
	SlowFirstByte float64 `json:"slow_first_byte"` // wait SlowFirstByteDelay before the first byte

	// SlowFirstByteDelay is the wait of the slow-first-byte fault
	// (default 2 s, not scaled by TimeScale).
	SlowFirstByteDelay time.Duration `json:"slow_first_byte_delay"`
	// StallFor bounds a stall; 0 stalls until the client goes away or the
	// server shuts down. Not scaled.
	StallFor time.Duration `json:"stall_for"`

	// KVBMDown is the probability that a scrape of the KVBM endpoint has
	// its connection closed without an answer; 1 means the KVBM port is
	// not opened at all (connection refused, as when DYN_KVBM_METRICS is
	// unset).
	KVBMDown float64 `json:"kvbm_down"`
	// KVBMGarbage is the probability that a scrape of the KVBM endpoint
	// returns 200 with a body that is not the exposition format.
	KVBMGarbage float64 `json:"kvbm_garbage"`

	// CorruptDiskOnboard is the probability that a request whose prefix
	// onboards from the disk tier (G3) gets wrong KV: it answers with other
	// words, while the counters report the onboard as a success (the silent
	// failure a broken GPU-direct file registration causes). Drawn apart
	// from the request faults.
	CorruptDiskOnboard float64 `json:"corrupt_disk_onboard"`
}

func (f Faults) requestTotal() float64 {
	return f.HTTP429 + f.HTTP500 + f.HTTP503 + f.Reset + f.Stall + f.MalformedSSE + f.SSEError + f.SlowFirstByte
}

// Config is everything a Server needs. Start from DefaultConfig.
type Config struct {
	// Listen addresses (host:port; port 0 picks a free port).
	APIAddr    string `json:"api_addr"`
	KVBMAddr   string `json:"kvbm_addr"`
	SystemAddr string `json:"system_addr"`

	// Model is the only model id served.
	Model  string `json:"model"`
	KVMode KVMode `json:"kv_mode"`

	// Costs is the cost model; Preset returns the built-in ones. When
	// CostModel is not nil it is used instead.
	Costs     Costs     `json:"costs"`
	CostModel CostModel `json:"-"`
	// TimeScale multiplies every simulated cost (default 1).
	TimeScale float64 `json:"time_scale"`
	// Seed seeds the fault decisions and the completion ids.
	Seed uint64 `json:"seed"`

	BlockTokens   int   `json:"block_tokens"`    // tokens per KV block (TRT-LLM tokens_per_block)
	BytesPerToken int64 `json:"bytes_per_token"` // KV bytes per token, to convert GB to blocks
	GPUBlocks     int   `json:"gpu_blocks"`      // G1 capacity in blocks
	CPUBlocks     int   `json:"cpu_blocks"`      // G2 capacity in blocks (cpu_only, cpu_disk)
	DiskBlocks    int   `json:"disk_blocks"`     // G3 capacity in blocks (cpu_disk)

	// DiskCacheDir is where the G3 directory is created ("" = system temp
	// dir). The simulator makes its own subdirectory and removes it on
	// shutdown.
	DiskCacheDir string `json:"disk_cache_dir"`
	// DiskBlockFileBytes is the size of the real file written per G3 block.
	DiskBlockFileBytes int `json:"disk_block_file_bytes"`
	// DisableDiskFilter sends every host block to disk, not only blocks
	// seen twice (DYN_KVBM_DISABLE_DISK_OFFLOAD_FILTER).
	DisableDiskFilter bool `json:"disable_disk_filter"`

	MaxBatch      int `json:"max_batch"`       // sequences decoded together; the rest queue
	MaxNumTokens  int `json:"max_num_tokens"`  // prompt + max_tokens above this is a 400
	HitRateWindow int `json:"hit_rate_window"` // requests in the KVBM hit-rate window

	Faults Faults `json:"faults"`

	// GroundTruth, when not nil, receives one JSON line per finished
	// request. The server buffers it and flushes on shutdown; the caller
	// closes it after Run returns.
	GroundTruth io.Writer `json:"-"`
	// Log receives human-readable log lines (nil discards them).
	Log io.Writer `json:"-"`
}

// DefaultConfig returns the defaults of `capture sim`: cpu_only, the
// spark-8b preset, and tiers sized like a Spark whose GPU pool was
// constrained to exercise offload: G1 1,024 blocks (32k tokens, 4 GiB), G2
// 4,096 blocks (16 GiB), G3 16,384 blocks (64 GiB of modelled KV, 1 GiB of
// real files at 64 KiB per block).
func DefaultConfig() Config {
	costs, _ := Preset(DefaultPresetID)
	return Config{
		APIAddr:            DefaultAPIAddr,
		KVBMAddr:           DefaultKVBMAddr,
		SystemAddr:         DefaultSystemAddr,
		Model:              DefaultModel,
		KVMode:             KVModeCPUOnly,
		Costs:              costs,
		TimeScale:          1,
		Seed:               1,
		BlockTokens:        DefaultBlockTokens,
		BytesPerToken:      DefaultBytesPerToken,
		GPUBlocks:          1024,
		CPUBlocks:          4096,
		DiskBlocks:         16384,
		DiskBlockFileBytes: DefaultDiskFileBytes,
		MaxBatch:           64,
		MaxNumTokens:       DefaultMaxNumTokens,
		HitRateWindow:      DefaultHitRateWindow,
		Faults:             Faults{SlowFirstByteDelay: DefaultSlowFirstByte},
	}
}

// BytesPerBlock is BytesPerToken * BlockTokens.
func (c Config) BytesPerBlock() int64 { return c.BytesPerToken * int64(c.BlockTokens) }

// BlocksFromGB converts a size in decimal GB to blocks as KVBM's leader
// does: floor(gb * 1e9 / bytesPerBlock).
func BlocksFromGB(gb float64, bytesPerBlock int64) int {
	if gb <= 0 || bytesPerBlock <= 0 {
		return 0
	}
	return int(math.Floor(gb * 1e9 / float64(bytesPerBlock)))
}

// ApplyKVBMEnv sets the G2/G3 capacities, the disk directory and the disk
// filter from KVBM's environment variables, read through getenv (pass
// os.Getenv). For each tier OVERRIDE_NUM_BLOCKS wins over CACHE_GB; unset or
// empty variables leave the value as it is. DYN_KVBM_DISABLE_DISK_OFFLOAD_FILTER
// is true only for exactly "true" or "1", as in KVBM. Call it after setting
// BlockTokens and BytesPerToken, and before applying flags, which win.
func (c *Config) ApplyKVBMEnv(getenv func(string) string) error {
	bpb := c.BytesPerBlock()
	tier := func(overrideName, gbName string, dst *int) error {
		if v := strings.TrimSpace(getenv(overrideName)); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("%s=%q: want a block count", overrideName, v)
			}
			*dst = n
			return nil
		}
		if v := strings.TrimSpace(getenv(gbName)); v != "" {
			gb, err := strconv.ParseFloat(v, 64)
			if err != nil || gb < 0 || math.IsNaN(gb) || math.IsInf(gb, 0) {
				return fmt.Errorf("%s=%q: want a size in GB", gbName, v)
			}
			*dst = BlocksFromGB(gb, bpb)
		}
		return nil
	}
	if err := tier(EnvCPUOverrideBlocks, EnvCPUCacheGB, &c.CPUBlocks); err != nil {
		return err
	}
	if err := tier(EnvDiskOverrideBlocks, EnvDiskCacheGB, &c.DiskBlocks); err != nil {
		return err
	}
	if v := getenv(EnvDiskCacheDir); v != "" {
		c.DiskCacheDir = v
	}
	if v := getenv(EnvDisableDiskFilter); v == "true" || v == "1" {
		c.DisableDiskFilter = true
	}
	return nil
}

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	var errs []error
	if _, err := ParseKVMode(string(c.KVMode)); err != nil {
		errs = append(errs, err)
	}
	if c.Model == "" {
		errs = append(errs, errors.New("model: empty"))
	}
	for _, m := range []struct {
		name     string
		v, least int64
	}{
		{"block tokens", int64(c.BlockTokens), 1}, {"bytes per token", c.BytesPerToken, 1}, {"gpu blocks", int64(c.GPUBlocks), 1},
		{"cpu blocks", int64(c.CPUBlocks), 0}, {"disk blocks", int64(c.DiskBlocks), 0},
		{"disk block file bytes", int64(c.DiskBlockFileBytes), 0},
		{"max batch", int64(c.MaxBatch), 1}, {"max num tokens", int64(c.MaxNumTokens), 1},
	} {
		if m.v < m.least {
			errs = append(errs, fmt.Errorf("%s %d: want at least %d", m.name, m.v, m.least))
		}
	}
	if !(c.TimeScale >= 0) || math.IsInf(c.TimeScale, 0) {
		errs = append(errs, fmt.Errorf("time scale %v: want a number ≥ 0", c.TimeScale))
	}
	for _, d := range []time.Duration{c.Costs.Overhead, c.Costs.PrefillFloor, c.Costs.PrefillPerToken,
		c.Costs.OnboardG2PerToken, c.Costs.OnboardG3PerToken, c.Costs.DecodePerToken, c.Costs.DecodePerSeq} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("costs %+v: negative duration", c.Costs))
			break
		}
	}
	f := c.Faults
	for _, p := range []float64{f.HTTP429, f.HTTP500, f.HTTP503, f.Reset, f.Stall, f.MalformedSSE, f.SSEError, f.SlowFirstByte, f.KVBMDown, f.KVBMGarbage, f.CorruptDiskOnboard} {
		if !(p >= 0 && p <= 1) {
			errs = append(errs, fmt.Errorf("fault probability %v: want 0..1", p))
			break
		}
	}
	if t := f.requestTotal(); t > 1+1e-9 {
		errs = append(errs, fmt.Errorf("request fault probabilities sum to %v: want at most 1", t))
	}
	if f.KVBMDown+f.KVBMGarbage > 1+1e-9 {
		errs = append(errs, fmt.Errorf("kvbm fault probabilities sum to %v: want at most 1", f.KVBMDown+f.KVBMGarbage))
	}
	if f.SlowFirstByteDelay < 0 || f.StallFor < 0 {
		errs = append(errs, errors.New("fault durations: want at least 0"))
	}
	if c.HitRateWindow < 0 {
		errs = append(errs, fmt.Errorf("hit rate window %d: want at least 0", c.HitRateWindow))
	}
	if len(errs) > 0 {
		return fmt.Errorf("sim config: %w", errs[0])
	}
	return nil
}

// costModel returns the model in force.
func (c Config) costModel() CostModel {
	if c.CostModel != nil {
		return c.CostModel
	}
	return c.Costs
}
