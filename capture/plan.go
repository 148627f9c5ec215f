package capture

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"text/tabwriter"
	"time"

	"gonum.org/v1/gonum/stat/distuv"

	"kvbench/results"
)

// Plan is one run settled before anything is sent: who it is (run id,
// modes, model), how prompt words were sized against tokens, and every
// request in order. NewPlan builds it once, after the model is resolved
// and the prompt sizes are calibrated; nothing changes it afterwards and
// the runner only executes it.
type Plan struct {
	RunID    string
	Scenario string
	TierMode string
	KVMode   string
	// Model is the resolved model; "" in a dry run without --model, when
	// the identity hashes are not known yet.
	Model string
	// Calibration is the word/token relation the prompts were built with.
	Calibration *results.Calibration
	// Grace is how long in-flight requests may finish after an interrupt.
	Grace   time.Duration
	Phases  []PhasePlan
	Prompts []*Prompt // every distinct prompt, in first-use order
	// Trace describes the replayed trace of a trace run (nil otherwise).
	Trace *TraceInfo
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
	// TraceSpeedup > 0: open loop at the trace's timestamps divided by it.
	TraceSpeedup float64
	// Until ends the phase (--duration): no request starts after it; the
	// requests not started are not sent. 0: the phase sends them all.
	Until    time.Duration
	Requests []PlannedRequest
}

// PlannedRequest is one request of the deterministic schedule.
type PlannedRequest struct {
	Index       int // position in the run, across phases
	Prompt      *Prompt
	RepeatIndex int
	SessionID   string
	BurstIndex  int
	Offset      time.Duration // open loop: intended send time from phase start
	// MaxTokens is this request's max_tokens; 0 means the configuration's.
	MaxTokens int
	// TraceLine and TraceSeenBlocks place a trace request in its trace.
	TraceLine       int
	TraceSeenBlocks int
}

// Resolution is what a run learns before it builds its plan.
type Resolution struct {
	RunID string // "" = scenario + UTC stamp
	Model string // "" = unknown (dry run): no identity hashes
	// Calibration sizes the prompts; nil means one word per token.
	Calibration *results.Calibration
}

// Seed namespaces keep the prompt sets of a run disjoint.
const (
	nsWarmup uint64 = 0x5741524d5550
	nsSetB   uint64 = 0x5345542d42
	nsRepo   uint64 = 0x5245504f
	nsProbe  uint64 = 0x50524f4245
)

// NewPlan builds the plan of a validated configuration with what the run
// resolved. It needs no network and is deterministic for a configuration
// and a resolution.
func NewPlan(c *Config, r Resolution) (*Plan, error) {
	tier, kv, err := results.ResolveModes(c.TierMode, c.KVMode)
	if err != nil {
		return nil, err
	}
	r.RunID = cmp.Or(r.RunID, newRunID(c.Scenario))
	if r.Calibration == nil {
		r.Calibration = &results.Calibration{Method: "none", WordsPerToken: 1}
	}
	p := &Plan{RunID: r.RunID, Scenario: c.Scenario, TierMode: tier, KVMode: kv, Model: r.Model,
		Calibration: r.Calibration, Grace: c.grace()}
	g := promptGen{wpt: r.Calibration.WordsPerToken, off: r.Calibration.OffsetTokens, longRange: c.LongRange}
	if err := p.addPhases(c, &g); err != nil {
		return nil, err
	}
	p.collectPrompts(c.genParams(r.Model))
	return p, nil
}

// DryRun is the plan `capture run --dry-run` prints: what a run with the
// same configuration sends, built without touching the network. The model
// is --model (identity hashes are left out without it); with calibration
// on, the prompt sizes assume one word per token until the run calibrates.
func DryRun(c *Config) (*Plan, error) {
	cal := uncalibrated(c)
	if c.Calibrate {
		cal.Note = "prompt lengths will be calibrated against the server first (two probe requests); " +
			"the words and hashes below assume one word per token and change with the calibration"
	}
	return NewPlan(c, Resolution{RunID: c.RunID, Model: c.Model, Calibration: cal})
}

// addPhases appends the warmup phase and the scenario's phases.
func (p *Plan) addPhases(c *Config, g *promptGen) error {
	if c.Warmup > 0 && c.Scenario != ScenarioTrace {
		// Warmup prompts come from a disjoint seed so that they never prime
		// the cache for the measured prompts.
		set := c.PromptSet
		if c.Scenario == ScenarioReuseVerify {
			set = c.ReusePromptSet
		}
		wp, err := g.set(set, results.PhaseWarmup, c.Warmup, c.RequestSeed^nsWarmup)
		if err != nil {
			return err
		}
		p.closed(c, results.PhaseWarmup, c.Concurrency, wp)
	}
	switch c.Scenario {
	case ScenarioStandard:
		mp, err := g.set(c.PromptSet, "", c.measureRequests(), c.RequestSeed)
		if err != nil {
			return err
		}
		p.closed(c, results.PhaseMeasure, c.Concurrency, mp)
		p.Phases[len(p.Phases)-1].Until = c.Duration
	case ScenarioEvictionReplay:
		return p.evictAndReplay(c, g, c.EvictionARequests, c.EvictionBRequests, []phaseStep{
			{results.PhasePopulate, c.EvictionAConcurrency, setA},
			{results.PhaseThrash, c.EvictionBConcurrency, setB},
			{results.PhaseReplay, c.EvictionAConcurrency, setA}})
	case ScenarioReuseVerify:
		return p.reuse(c, g)
	case ScenarioTrace:
		return p.trace(c, g)
	case ScenarioCopilotBurst:
		p.copilot(c, g)
	case ScenarioRehydrateReplay:
		// Note: baseline_replay sends set A cold (the recompute reference);
		// populate sends A again, so every block of A has been hit twice and
		// passes KVBM's default disk-offload filter; thrash evicts A with set
		// B at fixed pressure; replay measures A coming back.
		return p.evictAndReplay(c, g, c.RehydratePopulateRequests, c.RehydrateThrashRequests, []phaseStep{
			{results.PhaseBaselineReplay, c.RehydrateBaselineConcurrency, setA},
			{results.PhasePopulate, c.RehydratePopulateConcurrency, setA},
			{results.PhaseThrash, c.RehydrateThrashConcurrency, setB},
			{results.PhaseReplay, c.RehydrateReplayConcurrency, setA}})
	default:
		return fmt.Errorf("unknown scenario %q", c.Scenario)
	}
	return nil
}

// phaseStep is one closed-loop phase of an eviction scenario: which of
// the two long prompt sets it sends, at what concurrency.
type phaseStep struct {
	name string
	conc int
	set  int // setA or setB
}

const (
	setA = iota // the working set that is evicted and replayed
	setB        // the set that evicts it
)

// evictAndReplay builds the eviction scenarios: set A of nA long prompts,
// set B of nB, and the phases in order.
func (p *Plan) evictAndReplay(c *Config, g *promptGen, nA, nB int, steps []phaseStep) error {
	a, err := g.set("long", "A", nA, c.RequestSeed)
	if err != nil {
		return err
	}
	b, err := g.set("long", "B", nB, c.RequestSeed^nsSetB)
	if err != nil {
		return err
	}
	sets := [][]*Prompt{setA: a, setB: b}
	for _, s := range steps {
		p.closed(c, s.name, s.conc, sets[s.set])
	}
	return nil
}

// reuse builds reuse_verify: the same prompts ReuseRepeatCount times.
func (p *Plan) reuse(c *Config, g *promptGen) error {
	rp, err := g.set(c.ReusePromptSet, "", c.Requests, c.RequestSeed)
	if err != nil {
		return err
	}
	for r := 0; r < c.ReuseRepeatCount; r++ {
		p.closed(c, results.PhaseReuse, c.Concurrency, rp)
		last := &p.Phases[len(p.Phases)-1]
		last.Repeat = r
		for i := range last.Requests {
			last.Requests[i].RepeatIndex = r
		}
	}
	return nil
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
	ctxTokens := c.LongRange.Min
	if c.LongRange.Max > c.LongRange.Min {
		ctxTokens += rng.IntN(c.LongRange.Max - c.LongRange.Min + 1)
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

// collectPrompts lists the distinct prompts in first-use order and, when
// the model is known, gives each its identity hash.
func (p *Plan) collectPrompts(gp GenParams) {
	seen := map[*Prompt]bool{}
	for _, ph := range p.Phases {
		for _, r := range ph.Requests {
			if !seen[r.Prompt] {
				seen[r.Prompt] = true
				p.Prompts = append(p.Prompts, r.Prompt)
			}
		}
	}
	if gp.Model == "" {
		return
	}
	for _, pr := range p.Prompts {
		g := gp
		g.MaxTokens = cmp.Or(pr.maxTokens, gp.MaxTokens)
		pr.Identity = IdentityHash(pr.Text(), g)
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

// Print writes the plan for --dry-run: the phases, then every distinct
// prompt with the SHA-256 of its bytes (the prompts table's prompt_sha256)
// and its identity hash (the schedule's identity_hash).
func (p *Plan) Print(w io.Writer) {
	fmt.Fprintf(w, "scenario %s: %d phases, %d requests, %d distinct prompts\n", p.Scenario, len(p.Phases), p.Total(), len(p.Prompts))
	fmt.Fprintf(w, "run id %s, tier mode %s, kv mode %s\n", p.RunID, p.TierMode, p.KVMode)
	p.Trace.print(w)
	p.printPhases(w)
	model := p.Model
	if model == "" {
		model = "resolved from /v1/models when the run starts; identity hashes need --model"
	}
	fmt.Fprintf(w, "\nmodel: %s\n", model)
	fmt.Fprintf(w, "calibration: %s, %.4g words per token\n", p.Calibration.Method, p.Calibration.WordsPerToken)
	if p.Calibration.Note != "" {
		fmt.Fprintf(w, "  %s\n", p.Calibration.Note)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROMPT ID\tSET\tTARGET TOKENS\tWORDS\tPROMPT SHA256\tIDENTITY HASH")
	for _, pr := range p.Prompts {
		text := pr.Text()
		sum := sha256.Sum256([]byte(text))
		id := pr.Identity
		if id == "" {
			id = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", pr.ID, pr.Set, pr.TargetTokens, len(strings.Fields(text)), hex.EncodeToString(sum[:]), id)
	}
	tw.Flush()
}

func (p *Plan) printPhases(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PHASE\tREQUESTS\tCONCURRENCY\tLOAD\tFIRST INDEX\tTARGET TOKENS (MIN-MAX)")
	for _, ph := range p.Phases {
		lo, hi, first := 0, 0, 0
		for i, r := range ph.Requests {
			if i == 0 || r.Prompt.TargetTokens < lo {
				lo = r.Prompt.TargetTokens
			}
			hi = max(hi, r.Prompt.TargetTokens)
			if i == 0 {
				first = r.Index
			}
		}
		load := "closed loop"
		switch {
		case ph.TraceSpeedup > 0:
			load = fmt.Sprintf("trace timestamps / %g (mean %.3g req/s)", ph.TraceSpeedup, ph.Rate)
		case ph.Rate > 0:
			load = fmt.Sprintf("open loop %.3g req/s, burstiness %.3g", ph.Rate, ph.Burstiness)
		case ph.Think > 0:
			load = fmt.Sprintf("bursts, think %s", ph.Think)
		}
		if ph.Until > 0 {
			load += fmt.Sprintf(", for %s (requests: the cap)", ph.Until)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\t%d-%d\n", ph.Name, len(ph.Requests), ph.Concurrency, load, first, lo, hi)
	}
	tw.Flush()
}
