package sim

import (
	"fmt"
	"sort"
	"time"
)

// CostModel turns the work of a request into simulated durations. The
// server adds the real queueing time for a batch slot and multiplies every
// duration by Config.TimeScale.
type CostModel interface {
	// Prefill returns the time from getting a batch slot to the first
	// token: prefill of the uncached tokens plus onboarding.
	Prefill(w PrefillWork) time.Duration
	// InterToken returns the time to produce one more output token of a
	// sequence while running sequences (≥ 1) are in the batch.
	InterToken(running int) time.Duration
}

// PrefillWork is what a request needs before its first token.
type PrefillWork struct {
	PromptTokens   int // all prompt tokens
	UncachedTokens int // tokens to recompute (not in G1, G2 or G3)
	G2Tokens       int // tokens onboarded from host memory
	G3Tokens       int // tokens onboarded from disk
}

// Costs is the linear cost model behind the presets. Every field can be
// overridden on the command line (--cost-*).
//
//	Prefill    = Overhead + max(PrefillFloor, PrefillPerToken*uncached)
//	             + OnboardG2PerToken*g2 tokens + OnboardG3PerToken*g3 tokens
//	InterToken = DecodePerToken + DecodePerSeq*(running-1)
type Costs struct {
	// Overhead is a fixed cost added to every prefill.
	Overhead time.Duration `json:"overhead"`
	// PrefillFloor is the least time a prefill takes, however few tokens
	// are uncached (small prefills are launch-overhead bound).
	PrefillFloor time.Duration `json:"prefill_floor"`
	// PrefillPerToken is the compute cost of one uncached prompt token.
	PrefillPerToken time.Duration `json:"prefill_per_token"`
	// OnboardG2PerToken is the cost of onboarding one token's KV from host
	// memory (G2 → G1).
	OnboardG2PerToken time.Duration `json:"onboard_g2_per_token"`
	// OnboardG3PerToken is the cost of onboarding one token's KV from disk
	// (G3 → G1).
	OnboardG3PerToken time.Duration `json:"onboard_g3_per_token"`
	// DecodePerToken is the time between output tokens at batch size 1.
	DecodePerToken time.Duration `json:"decode_per_token"`
	// DecodePerSeq is what each additional running sequence adds to the
	// time between output tokens.
	DecodePerSeq time.Duration `json:"decode_per_seq"`
}

// Prefill implements CostModel.
func (c Costs) Prefill(w PrefillWork) time.Duration {
	p := c.PrefillPerToken * time.Duration(w.UncachedTokens)
	if p < c.PrefillFloor {
		p = c.PrefillFloor
	}
	return c.Overhead + p +
		c.OnboardG2PerToken*time.Duration(w.G2Tokens) +
		c.OnboardG3PerToken*time.Duration(w.G3Tokens)
}

// InterToken implements CostModel.
func (c Costs) InterToken(running int) time.Duration {
	if running < 1 {
		running = 1
	}
	return c.DecodePerToken + c.DecodePerSeq*time.Duration(running-1)
}

// Preset names.
const (
	PresetSpark8B   = "spark-8b"
	PresetH200      = "h200-virtio"
	PresetFast      = "fast"
	DefaultPresetID = PresetSpark8B
)

// presets holds the coefficients of each preset, each with where its
// figures come from.
var presets = map[string]Costs{
	// DGX Spark (GB10) with an 8B model, from published figures: prefill
	// ≈ 8,000 tokens/s (125 µs/token); G2 onboarding is a copy inside the
	// same LPDDR5x (≈ 0.5 µs/token at full bandwidth, 1.5 µs realistic);
	// G3 from PCIe Gen5 NVMe ≈ 20–40 µs/token (30 µs); decode ≈ 20 tokens/s
	// at batch 1 (50 ms/token). Estimates, not measured: a 20 ms prefill
	// floor and 0.5 ms per extra running sequence (decode is bound by
	// reading the weights, which a batch shares).
	PresetSpark8B: {
		PrefillFloor:      20 * time.Millisecond,
		PrefillPerToken:   125 * time.Microsecond,
		OnboardG2PerToken: 1500 * time.Nanosecond,
		OnboardG3PerToken: 30 * time.Microsecond,
		DecodePerToken:    50 * time.Millisecond,
		DecodePerSeq:      500 * time.Microsecond,
	},
	// The measured H200 box (PCIe host link, virtio disk), the negative
	// control where B2 must not win: prefill fits 34 ms floor and 30.7 µs
	// per token (1,024..7,600 tokens: 34..236 ms measured); pinned copies at
	// 54.7 GB/s = 2.4 µs/token; O_DIRECT disk reads at 2.34 GB/s =
	// 56 µs/token, slower than recomputing. Estimates, not measured: decode
	// 15 ms/token at batch 1 and 0.2 ms per extra sequence.
	PresetH200: {
		PrefillFloor:      34 * time.Millisecond,
		PrefillPerToken:   30700 * time.Nanosecond,
		OnboardG2PerToken: 2400 * time.Nanosecond,
		OnboardG3PerToken: 56 * time.Microsecond,
		DecodePerToken:    15 * time.Millisecond,
		DecodePerSeq:      200 * time.Microsecond,
	},
	// Zero costs, for tests and client benchmarks: the simulator answers
	// as fast as it can.
	PresetFast: {},
}

// Preset returns the coefficients of a named preset: spark-8b, h200-virtio
// or fast.
func Preset(name string) (Costs, error) {
	c, ok := presets[name]
	if !ok {
		return Costs{}, fmt.Errorf("unknown preset %q (want one of %v)", name, PresetNames())
	}
	return c, nil
}

// PresetNames returns the preset names in sorted order.
func PresetNames() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
