package capture

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"kvbench/results"
)

// DefaultTraceBlockTokens is the block size of the published Mooncake
// traces: one hash id stands for 512 tokens.
const DefaultTraceBlockTokens = 512

// TraceConfig is the trace scenario's part of a Config.
type TraceConfig struct {
	TracePath        string  // --trace
	TraceBlockTokens int     // tokens per hash id
	TraceSpeedup     float64 // timestamps are divided by it
	TraceTiming      bool    // open loop at the timestamps; false: closed loop at --concurrency
	TraceLimit       int     // records replayed (0: all)
	TraceOffset      int     // records skipped first
	TraceSkipBad     bool    // skip and count bad lines
	// TraceData is the trace as read by RunFlags.Config; nil makes NewPlan
	// read TracePath itself.
	TraceData *Trace
}

// registerTrace defines the flags of the trace scenario.
func (f *RunFlags) registerTrace(fs *pflag.FlagSet) {
	c := &f.cfg.TraceConfig
	fs.StringVar(&c.TracePath, "trace", "", "trace: JSONL request trace to replay, one request a line: "+TraceFieldNames()+
		"; hash_ids are optional (without them no prefix is shared)")
	fs.IntVar(&c.TraceBlockTokens, "trace-block-tokens", DefaultTraceBlockTokens, "trace: tokens per hash id")
	fs.Float64Var(&c.TraceSpeedup, "trace-speedup", 1, "trace: divide the trace's timestamps by this (2 = twice as fast)")
	fs.BoolVar(&c.TraceTiming, "trace-timing", true, "trace: send at the trace's timestamps (open loop, --concurrency caps requests in flight); false: closed loop at --concurrency")
	fs.IntVar(&c.TraceLimit, "trace-limit", 0, "trace: replay at most this many requests (0: all)")
	fs.IntVar(&c.TraceOffset, "trace-offset", 0, "trace: skip this many requests of the trace first")
	fs.BoolVar(&c.TraceSkipBad, "trace-skip-bad", false, "trace: skip and count bad lines instead of refusing the trace")
}

// checkTrace validates the trace flags of a trace run.
func (c *Config) checkTrace() error {
	if c.Scenario != ScenarioTrace {
		return nil
	}
	switch {
	case c.TracePath == "" && c.TraceData == nil:
		return fmt.Errorf("--scenario trace needs --trace FILE")
	case c.TraceBlockTokens < 1:
		return fmt.Errorf("--trace-block-tokens %d: need at least 1", c.TraceBlockTokens)
	case !(c.TraceSpeedup > 0) || math.IsInf(c.TraceSpeedup, 0):
		return fmt.Errorf("--trace-speedup %g: want a positive factor", c.TraceSpeedup)
	case c.TraceLimit < 0:
		return fmt.Errorf("--trace-limit %d: must not be negative", c.TraceLimit)
	case c.TraceOffset < 0:
		return fmt.Errorf("--trace-offset %d: must not be negative", c.TraceOffset)
	case c.RequestRate > 0:
		return fmt.Errorf("--request-rate does not apply to --scenario trace: it sends at the trace's timestamps (--trace-speedup) or closed loop (--trace-timing=false)")
	}
	return nil
}

// traceTimed reports whether the run replays a trace open loop.
func (c *Config) traceTimed() bool { return c.Scenario == ScenarioTrace && c.TraceTiming }

// traceOptions are the reading options of the configured trace.
func (c *Config) traceOptions() TraceOptions {
	return TraceOptions{BlockTokens: c.TraceBlockTokens, SkipBad: c.TraceSkipBad, NoTimestamps: !c.TraceTiming,
		Offset: c.TraceOffset, Limit: c.TraceLimit}
}

// loadTrace reads the trace of a trace run into TraceData, so that a bad
// trace is a usage error before anything is sent.
func (c *Config) loadTrace() error {
	if c.Scenario != ScenarioTrace || c.TraceData != nil {
		return nil
	}
	t, err := LoadTrace(c.TracePath, c.traceOptions())
	if err != nil {
		return err
	}
	c.TraceData = t
	return nil
}

// TraceInfo is what a plan says about its trace.
type TraceInfo struct {
	Path        string
	Requests    int
	FirstLine   int
	LastLine    int
	Skipped     int
	FirstSkip   string
	BlockTokens int
	SeenPrefix  int // requests with at least one leading block seen before
}

// print writes the trace line of a dry run; nothing for a plan without
// a trace.
func (t *TraceInfo) print(w io.Writer) {
	if t == nil {
		return
	}
	fmt.Fprintf(w, "trace %s: %d requests (lines %d-%d), %d with a prefix seen before, blocks of %d tokens, %d bad lines skipped\n",
		t.Path, t.Requests, t.FirstLine, t.LastLine, t.SeenPrefix, t.BlockTokens, t.Skipped)
	if t.FirstSkip != "" {
		fmt.Fprintf(w, "  first skipped: %s\n", t.FirstSkip)
	}
}

// note records the trace in the manifest: facts, and a warning when bad
// lines were skipped.
func (t *TraceInfo) note(m *results.Manifest) {
	if t == nil {
		return
	}
	if m.Facts == nil {
		m.Facts = map[string]any{}
	}
	m.Facts["trace_path"] = t.Path
	m.Facts["trace_requests"] = t.Requests
	m.Facts["trace_skipped_lines"] = t.Skipped
	m.Facts["trace_seen_prefix_requests"] = t.SeenPrefix
	if t.Skipped > 0 {
		m.Warnings = append(m.Warnings, fmt.Sprintf("trace: %d bad lines skipped (--trace-skip-bad); first: %s", t.Skipped, t.FirstSkip))
	}
}

// trace builds the trace scenario: the first --warmup requests of the
// trace as phase warmup, the rest as phase measure.
func (p *Plan) trace(c *Config, g *promptGen) error {
	t := c.TraceData
	if t == nil {
		var err error
		if t, err = LoadTrace(c.TracePath, c.traceOptions()); err != nil {
			return err
		}
	}
	recs := t.Records
	nw := min(c.Warmup, len(recs))
	if nw == len(recs) {
		return fmt.Errorf("--warmup %d leaves none of the trace's %d requests to measure", c.Warmup, len(recs))
	}
	seen := seenBlocks(recs)
	info := &TraceInfo{Path: t.Path, Requests: len(recs), FirstLine: recs[0].Line, LastLine: recs[len(recs)-1].Line,
		Skipped: t.Skipped, FirstSkip: t.FirstSkip, BlockTokens: c.TraceBlockTokens}
	for _, s := range seen {
		if s > 0 {
			info.SeenPrefix++
		}
	}
	p.Trace = info
	if nw > 0 {
		p.tracePhase(c, g, results.PhaseWarmup, recs[:nw], seen[:nw])
	}
	p.tracePhase(c, g, results.PhaseMeasure, recs[nw:], seen[nw:])
	return nil
}

// tracePhase appends one phase of trace requests.
func (p *Plan) tracePhase(c *Config, g *promptGen, name string, recs []TraceRecord, seen []int) {
	ph := PhasePlan{Name: name, Concurrency: c.Concurrency}
	next := p.Total()
	for i, r := range recs {
		ph.Requests = append(ph.Requests, PlannedRequest{Index: next + i, Prompt: g.tracePrompt(r, c.TraceBlockTokens, c.RequestSeed),
			MaxTokens: max(1, r.OutputLength), TraceLine: r.Line, TraceSeenBlocks: seen[i]})
	}
	if c.TraceTiming {
		t0 := recs[0].TimestampMs
		for i, r := range recs {
			ph.Requests[i].Offset = time.Duration((r.TimestampMs - t0) / c.TraceSpeedup * float64(time.Millisecond))
		}
		ph.TraceSpeedup = c.TraceSpeedup
		// Rate > 0 makes the runner send open loop; it is the mean rate.
		ph.Rate = float64(len(recs))
		if span := ph.Requests[len(recs)-1].Offset.Seconds(); span > 0 {
			ph.Rate = float64(len(recs)-1) / span
		}
	}
	p.Phases = append(p.Phases, ph)
}

// Seed namespaces of trace blocks: blocks named by a hash id, and blocks
// of a single request.
const (
	nsTraceBlock uint64 = 0x54524345424c4b
	nsTraceOwn   uint64 = 0x5452434f574e
)

// tracePrompt is the prompt of one trace request: its blocks in order,
// cut to its input length. A block's text depends only on its hash id
// and the seed, so requests that share their first k ids share exactly k
// blocks of prefix, byte for byte.
func (g *promptGen) tracePrompt(r TraceRecord, blockTokens int, seed uint64) *Prompt {
	id := fmt.Sprintf("trace-%d-L%d", seed, r.Line)
	group := ""
	if len(r.HashIDs) > 0 {
		group = fmt.Sprintf("trace-h%d", r.HashIDs[0])
	}
	gg := *g
	return &Prompt{ID: id, Set: "trace", TargetTokens: r.InputLength, PrefixGroup: group, maxTokens: max(1, r.OutputLength),
		gen: func() string { return gg.traceText(r, blockTokens, seed) }}
}

// traceText builds the words of a trace request's blocks.
func (g *promptGen) traceText(r TraceRecord, blockTokens int, seed uint64) string {
	total := g.words(r.InputLength)
	per := g.blockWords(blockTokens)
	var b strings.Builder
	b.Grow(total * 7)
	words := 0
	for j := 0; words < total; j++ {
		var rng *rand.Rand
		if j < len(r.HashIDs) {
			rng = rand.New(rand.NewPCG(seed^nsTraceBlock, uint64(r.HashIDs[j])))
		} else {
			rng = rand.New(rand.NewPCG(seed^nsTraceOwn, uint64(r.Line)<<24|uint64(j)))
		}
		for k := 0; k < per && words < total; k++ {
			if words > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(vocabulary[rng.IntN(len(vocabulary))])
			words++
		}
	}
	return b.String()
}

// blockWords is the number of words of one block of blockTokens tokens.
func (g *promptGen) blockWords(blockTokens int) int {
	wpt := g.wpt
	if wpt <= 0 {
		wpt = 1
	}
	return max(1, int(math.Round(float64(blockTokens)*wpt)))
}
