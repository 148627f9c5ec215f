package capture

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"gonum.org/v1/gonum/stat/distuv"

	"kvbench/results"
)

// Scenarios known to capture.
var Scenarios = []string{"standard", "eviction_replay", "reuse_verify", "local_copilot_burst", "rehydrate_replay"}

// Config is everything a run needs, resolved from flags. The API key is
// held here only to be sent; it is never written anywhere.
type Config struct {
	BaseURL   string
	Model     string
	TierMode  string
	KVMode    string
	Scenario  string
	PromptSet string
	LongRange Range

	Requests    int
	Warmup      int
	Concurrency int
	MaxTokens   int
	Temperature float64
	TopP        float64
	RequestSeed uint64
	Stop        []string
	Stream      bool

	// Open loop: RequestRate > 0 sends on a Poisson (Burstiness 1) or gamma
	// schedule, with Concurrency as the cap on requests in flight.
	RequestRate float64
	Burstiness  float64

	// eviction_replay
	EvictionARequests    int
	EvictionBRequests    int
	EvictionAConcurrency int
	EvictionBConcurrency int

	// reuse_verify
	ReusePromptSet   string
	ReuseRepeatCount int

	// local_copilot_burst
	CopilotSessions    int
	CopilotBursts      int
	CopilotBurstSize   int
	CopilotThink       time.Duration
	CopilotEditTokens  int
	CopilotContextSize Range

	// rehydrate_replay
	RehydratePopulateRequests    int
	RehydrateThrashRequests      int
	RehydratePopulateConcurrency int
	RehydrateThrashConcurrency   int
	RehydrateReplayConcurrency   int
	RehydrateBaselineConcurrency int

	// Token budget: prompt tokens + max_tokens above MaxNumTokens is caught
	// before sending.
	MaxNumTokens       int
	AllowPreflightSkip bool
	// WordsPerToken converts token targets into prompt words; 1 until
	// calibrated against the server.
	WordsPerToken float64
	WordsOffset   float64
	Calibrate     bool

	RunID      string
	ResultsDir string

	APIKey              string
	RequestTimeout      time.Duration
	ModelResolveTimeout time.Duration
	ModelResolvePoll    time.Duration
	MaxErrorRate        float64
	MaxScheduleLag      time.Duration
	StoreResponses      bool
	Grace               time.Duration

	// Flags holds every resolved flag by name, for the manifest.
	Flags map[string]string

	// Samplers run alongside the requests (telemetry); may be empty.
	Samplers []Sampler

	// Campaign places the run in a campaign (nil for a stand-alone run).
	Campaign *results.CampaignRef
}

// Validate checks the configuration without touching the network.
func (c *Config) Validate() error {
	if c.BaseURL == "" {
		return fmt.Errorf("--base-url is required")
	}
	if !strings.HasPrefix(c.BaseURL, "http://") && !strings.HasPrefix(c.BaseURL, "https://") {
		return fmt.Errorf("--base-url %q: want http://HOST:PORT or https://HOST:PORT", c.BaseURL)
	}
	tier, kv, err := results.ResolveModes(c.TierMode, c.KVMode)
	if err != nil {
		return err
	}
	c.TierMode, c.KVMode = tier, kv
	if !slices.Contains(Scenarios, c.Scenario) {
		return fmt.Errorf("unknown scenario %q (want one of %s)", c.Scenario, strings.Join(Scenarios, ", "))
	}
	if !slices.Contains(PromptSets, c.PromptSet) {
		return fmt.Errorf("unknown prompt set %q (want one of %s)", c.PromptSet, strings.Join(PromptSets, ", "))
	}
	if c.Scenario == "reuse_verify" && !slices.Contains(PromptSets, c.ReusePromptSet) {
		return fmt.Errorf("unknown --reuse-prompt-set %q (want one of %s)", c.ReusePromptSet, strings.Join(PromptSets, ", "))
	}
	// Counts that must be at least 1, by flag name; scenario flags only
	// matter for their scenario.
	type count struct {
		name string
		v    int
	}
	positive := []count{{"--requests", c.Requests}, {"--concurrency", c.Concurrency}, {"--max-tokens", c.MaxTokens}}
	switch c.Scenario {
	case "eviction_replay":
		positive = append(positive, count{"--eviction-a-requests", c.EvictionARequests}, count{"--eviction-b-requests", c.EvictionBRequests},
			count{"--eviction-a-concurrency", c.EvictionAConcurrency}, count{"--eviction-b-concurrency", c.EvictionBConcurrency})
	case "reuse_verify":
		positive = append(positive, count{"--reuse-repeat-count", c.ReuseRepeatCount})
	case "local_copilot_burst":
		positive = append(positive, count{"--copilot-sessions", c.CopilotSessions}, count{"--copilot-bursts", c.CopilotBursts},
			count{"--copilot-burst-size", c.CopilotBurstSize}, count{"--copilot-edit-tokens", c.CopilotEditTokens})
	case "rehydrate_replay":
		positive = append(positive, count{"--rehydrate-populate-requests", c.RehydratePopulateRequests},
			count{"--rehydrate-thrash-requests", c.RehydrateThrashRequests},
			count{"--rehydrate-populate-concurrency", c.RehydratePopulateConcurrency},
			count{"--rehydrate-thrash-concurrency", c.RehydrateThrashConcurrency},
			count{"--rehydrate-replay-concurrency", c.RehydrateReplayConcurrency},
			count{"--rehydrate-baseline-replay-concurrency", c.RehydrateBaselineConcurrency})
	}
	for _, p := range positive {
		if p.v < 1 {
			return fmt.Errorf("%s %d: need at least 1", p.name, p.v)
		}
	}
	switch {
	case c.Warmup < 0:
		return fmt.Errorf("--warmup %d: must not be negative", c.Warmup)
	case c.Temperature < 0:
		return fmt.Errorf("--temperature %g: must not be negative", c.Temperature)
	case c.TopP <= 0 || c.TopP > 1:
		return fmt.Errorf("--top-p %g: want a value in (0, 1]", c.TopP)
	case c.MaxErrorRate < 0 || c.MaxErrorRate > 1:
		return fmt.Errorf("--max-error-rate %g: want a value in [0, 1]", c.MaxErrorRate)
	case c.RequestRate < 0 || math.IsInf(c.RequestRate, 0) || math.IsNaN(c.RequestRate):
		return fmt.Errorf("--request-rate %g: want a rate in requests per second (0 = closed loop)", c.RequestRate)
	case c.RequestRate > 0 && !(c.Burstiness > 0):
		return fmt.Errorf("--burstiness %g: want a positive gamma shape (1 = Poisson)", c.Burstiness)
	case c.MaxNumTokens < 0:
		return fmt.Errorf("--max-num-tokens %d: must not be negative", c.MaxNumTokens)
	case c.CopilotThink < 0:
		return fmt.Errorf("--copilot-think-ms: must not be negative")
	case c.RunID != "" && (strings.ContainsAny(c.RunID, `/\`) || c.RunID == "." || c.RunID == ".." || strings.HasPrefix(c.RunID, ".")):
		return fmt.Errorf("--run-id %q: must be a plain directory name", c.RunID)
	}
	return nil
}

// Plan is a scenario's execution plan, computed before anything is sent.
type Plan struct {
	Scenario string
	Phases   []PhasePlan
	Prompts  []*Prompt // every distinct prompt, in first-use order
}

// PhasePlan is one phase. Closed loop: Concurrency workers each send the
// next request when their last one ends. Open loop (Rate > 0): requests
// are sent at Offsets from the phase start, at most Concurrency in flight.
// With Think > 0 the requests run in bursts (by BurstIndex), each burst
// all at once, separated by Think.
type PhasePlan struct {
	Name        string
	Repeat      int // reuse_verify: which repetition of the set this phase is
	Concurrency int
	Rate        float64
	Burstiness  float64
	Think       time.Duration
	Requests    []PlannedRequest
}

// PlannedRequest is one request of the deterministic schedule.
type PlannedRequest struct {
	Index       int // position in the run, across phases
	Prompt      *Prompt
	RepeatIndex int
	SessionID   string
	BurstIndex  int
	Offset      time.Duration // open loop: intended send time from phase start
}

// Seed namespaces keep the prompt sets of a run disjoint.
const (
	nsWarmup uint64 = 0x5741524d5550
	nsSetB   uint64 = 0x5345542d42
	nsRepo   uint64 = 0x5245504f
	nsProbe  uint64 = 0x50524f4245
)

// BuildPlan turns a validated configuration into a plan. It needs no
// network and is deterministic for a given configuration.
func BuildPlan(c *Config) (*Plan, error) {
	g := promptGen{wpt: c.WordsPerToken, off: c.WordsOffset, longRange: c.LongRange}
	p := &Plan{Scenario: c.Scenario}
	if c.Warmup > 0 {
		// Warmup prompts come from a disjoint seed so that they never prime
		// the cache for the measured prompts.
		set := c.PromptSet
		if c.Scenario == "reuse_verify" {
			set = c.ReusePromptSet
		}
		wp, err := g.set(set, "warmup", c.Warmup, c.RequestSeed^nsWarmup)
		if err != nil {
			return nil, err
		}
		p.closed(c, results.PhaseWarmup, c.Concurrency, wp)
	}
	switch c.Scenario {
	case "standard":
		mp, err := g.set(c.PromptSet, "", c.Requests, c.RequestSeed)
		if err != nil {
			return nil, err
		}
		p.closed(c, results.PhaseMeasure, c.Concurrency, mp)
	case "eviction_replay":
		a, _ := g.set("long", "A", c.EvictionARequests, c.RequestSeed)
		b, _ := g.set("long", "B", c.EvictionBRequests, c.RequestSeed^nsSetB)
		p.closed(c, results.PhasePopulate, c.EvictionAConcurrency, a)
		p.closed(c, results.PhaseThrash, c.EvictionBConcurrency, b)
		p.closed(c, results.PhaseReplay, c.EvictionAConcurrency, a)
	case "reuse_verify":
		rp, err := g.set(c.ReusePromptSet, "", c.Requests, c.RequestSeed)
		if err != nil {
			return nil, err
		}
		for r := 0; r < c.ReuseRepeatCount; r++ {
			p.closed(c, results.PhaseReuse, c.Concurrency, rp)
			last := &p.Phases[len(p.Phases)-1]
			last.Repeat = r
			for i := range last.Requests {
				last.Requests[i].RepeatIndex = r
			}
		}
	case "local_copilot_burst":
		p.copilot(c, &g)
	case "rehydrate_replay":
		// Note: baseline_replay sends set A cold (the recompute reference);
		// populate sends A again, so every block of A has been hit twice and
		// passes KVBM's default disk-offload filter; thrash evicts A with set
		// B at fixed pressure; replay measures A coming back.
		a, _ := g.set("long", "A", c.RehydratePopulateRequests, c.RequestSeed)
		b, _ := g.set("long", "B", c.RehydrateThrashRequests, c.RequestSeed^nsSetB)
		p.closed(c, results.PhaseBaselineReplay, c.RehydrateBaselineConcurrency, a)
		p.closed(c, results.PhasePopulate, c.RehydratePopulateConcurrency, a)
		p.closed(c, results.PhaseThrash, c.RehydrateThrashConcurrency, b)
		p.closed(c, results.PhaseReplay, c.RehydrateReplayConcurrency, a)
	default:
		return nil, fmt.Errorf("unknown scenario %q", c.Scenario)
	}
	p.collectPrompts()
	return p, nil
}

// closed appends a phase sending prompts in order; with --request-rate it
// becomes open loop with concurrency as the in-flight cap.
func (p *Plan) closed(c *Config, name string, conc int, prompts []*Prompt) {
	next := p.Total()
	ph := PhasePlan{Name: name, Concurrency: conc}
	for i, pr := range prompts {
		ph.Requests = append(ph.Requests, PlannedRequest{Index: next + i, Prompt: pr})
	}
	if c.RequestRate > 0 && name != results.PhaseWarmup {
		ph.Rate, ph.Burstiness = c.RequestRate, c.Burstiness
		ph.Concurrency = max(conc, c.Concurrency)
		offsets := arrivals(len(ph.Requests), c.RequestRate, c.Burstiness, c.RequestSeed^uint64(len(p.Phases)+1))
		for i := range ph.Requests {
			ph.Requests[i].Offset = offsets[i]
		}
	}
	p.Phases = append(p.Phases, ph)
}

// arrivals returns n send offsets with gamma-distributed gaps of mean
// 1/rate and shape k (k = 1: Poisson; k < 1 burstier; k > 1 smoother), the
// convention of vLLM's --burstiness and AIPerf. The first request goes at 0.
func arrivals(n int, rate, k float64, seed uint64) []time.Duration {
	// Gap ~ Gamma(shape k, rate k·rate): mean 1/rate, Poisson at k = 1.
	gap := distuv.Gamma{Alpha: k, Beta: rate * k, Src: rand.NewPCG(seed, 0x4152524956414c)}
	out := make([]time.Duration, n)
	t := 0.0
	for i := 1; i < n; i++ {
		t += gap.Rand()
		out[i] = time.Duration(t * float64(time.Second))
	}
	return out
}

// copilot builds local_copilot_burst: CopilotSessions sessions share one
// long repository context (a prefix every request reuses); each request
// appends a small session-specific edit. A burst sends every session's
// CopilotBurstSize requests at once; bursts are separated by CopilotThink.
func (p *Plan) copilot(c *Config, g *promptGen) {
	rng := rand.New(rand.NewPCG(c.RequestSeed^nsRepo, 1))
	ctxRange := c.CopilotContextSize
	if ctxRange.Min == 0 {
		ctxRange = c.LongRange
	}
	ctxTokens := ctxRange.Min
	if ctxRange.Max > ctxRange.Min {
		ctxTokens += rng.IntN(ctxRange.Max - ctxRange.Min + 1)
	}
	repoID := fmt.Sprintf("repo-%d", c.RequestSeed)
	repo := g.text(rng, repoID, ctxTokens)
	ph := PhasePlan{Name: results.PhaseBurst, Concurrency: c.CopilotSessions * c.CopilotBurstSize, Think: c.CopilotThink}
	next := p.Total()
	for b := 0; b < c.CopilotBursts; b++ {
		for s := 0; s < c.CopilotSessions; s++ {
			for k := 0; k < c.CopilotBurstSize; k++ {
				id := fmt.Sprintf("copilot-%d-s%02d-b%02d-%d", c.RequestSeed, s, b, k)
				editSeed := rng.Uint64()
				gg := *g
				pr := &Prompt{ID: id, Set: "copilot", TargetTokens: ctxTokens + c.CopilotEditTokens, PrefixGroup: repoID,
					gen: func() string {
						return repo + " " + gg.text(rand.New(rand.NewPCG(editSeed, 0x65646974)), id, c.CopilotEditTokens)
					}}
				ph.Requests = append(ph.Requests, PlannedRequest{Index: next, Prompt: pr, SessionID: fmt.Sprintf("s%02d", s), BurstIndex: b})
				next++
			}
		}
	}
	p.Phases = append(p.Phases, ph)
}

func (p *Plan) collectPrompts() {
	seen := map[*Prompt]bool{}
	for _, ph := range p.Phases {
		for _, r := range ph.Requests {
			if !seen[r.Prompt] {
				seen[r.Prompt] = true
				p.Prompts = append(p.Prompts, r.Prompt)
			}
		}
	}
}

// Total returns the number of requests in the plan.
func (p *Plan) Total() int {
	n := 0
	for _, ph := range p.Phases {
		n += len(ph.Requests)
	}
	return n
}

// Print writes a human-readable plan, for --dry-run.
func (p *Plan) Print(w io.Writer) {
	fmt.Fprintf(w, "scenario %s: %d phases, %d requests, %d distinct prompts\n", p.Scenario, len(p.Phases), p.Total(), len(p.Prompts))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PHASE\tREQUESTS\tCONCURRENCY\tLOAD\tFIRST INDEX\tTARGET TOKENS (MIN-MAX)")
	for _, ph := range p.Phases {
		lo, hi, first := 0, 0, 0
		for i, r := range ph.Requests {
			if i == 0 || r.Prompt.TargetTokens < lo {
				lo = r.Prompt.TargetTokens
			}
			if r.Prompt.TargetTokens > hi {
				hi = r.Prompt.TargetTokens
			}
			if i == 0 {
				first = r.Index
			}
		}
		load := "closed loop"
		switch {
		case ph.Rate > 0:
			load = fmt.Sprintf("open loop %.3g req/s, burstiness %.3g", ph.Rate, ph.Burstiness)
		case ph.Think > 0:
			load = fmt.Sprintf("bursts, think %s", ph.Think)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\t%d-%d\n", ph.Name, len(ph.Requests), ph.Concurrency, load, first, lo, hi)
	}
	tw.Flush()
}
