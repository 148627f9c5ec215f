package capture

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"kvbench/results"
)

// Scenarios known to capture.
var Scenarios = []string{"standard"}

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

	RunID      string
	ResultsDir string

	APIKey              string
	RequestTimeout      time.Duration
	ModelResolveTimeout time.Duration
	ModelResolvePoll    time.Duration
	MaxErrorRate        float64
	StoreResponses      bool
	Grace               time.Duration

	// Flags holds every resolved flag by name, for the manifest.
	Flags map[string]string
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
	if !contains(Scenarios, c.Scenario) {
		return fmt.Errorf("unknown scenario %q (want one of %s)", c.Scenario, strings.Join(Scenarios, ", "))
	}
	if !contains(PromptSets, c.PromptSet) {
		return fmt.Errorf("unknown prompt set %q (want one of %s)", c.PromptSet, strings.Join(PromptSets, ", "))
	}
	switch {
	case c.Requests < 1:
		return fmt.Errorf("--requests %d: need at least 1", c.Requests)
	case c.Warmup < 0:
		return fmt.Errorf("--warmup %d: must not be negative", c.Warmup)
	case c.Concurrency < 1:
		return fmt.Errorf("--concurrency %d: need at least 1", c.Concurrency)
	case c.MaxTokens < 1:
		return fmt.Errorf("--max-tokens %d: need at least 1", c.MaxTokens)
	case c.Temperature < 0:
		return fmt.Errorf("--temperature %g: must not be negative", c.Temperature)
	case c.TopP <= 0 || c.TopP > 1:
		return fmt.Errorf("--top-p %g: want a value in (0, 1]", c.TopP)
	case c.MaxErrorRate < 0 || c.MaxErrorRate > 1:
		return fmt.Errorf("--max-error-rate %g: want a value in [0, 1]", c.MaxErrorRate)
	case c.RunID != "" && (strings.ContainsAny(c.RunID, `/\`) || c.RunID == "." || c.RunID == ".."):
		return fmt.Errorf("--run-id %q: must be a plain directory name", c.RunID)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Plan is a scenario's execution plan, computed before anything is sent.
type Plan struct {
	Scenario string
	Phases   []PhasePlan
}

// PhasePlan is one phase: a closed-loop load of its requests at a fixed
// concurrency.
type PhasePlan struct {
	Name        string
	Concurrency int
	Requests    []PlannedRequest
}

// PlannedRequest is one request of the deterministic schedule.
type PlannedRequest struct {
	Index       int // position in the run, across phases
	Prompt      Prompt
	RepeatIndex int
	SessionID   string
	BurstIndex  int
}

// BuildPlan turns a validated configuration into a plan. It needs no
// network and is deterministic for a given configuration.
func BuildPlan(c *Config) (*Plan, error) {
	p := &Plan{Scenario: c.Scenario}
	wpt := 1.0
	switch c.Scenario {
	case "standard":
		if c.Warmup > 0 {
			// Warmup prompts come from a disjoint seed so that they never
			// prime the cache for the measured prompts.
			wp, err := GeneratePrompts(c.PromptSet, c.Warmup, c.RequestSeed^0x5741524d5550, c.LongRange, wpt)
			if err != nil {
				return nil, err
			}
			for i := range wp {
				wp[i].ID = "warmup-" + wp[i].ID
			}
			p.add(results.PhaseWarmup, c.Concurrency, wp)
		}
		mp, err := GeneratePrompts(c.PromptSet, c.Requests, c.RequestSeed, c.LongRange, wpt)
		if err != nil {
			return nil, err
		}
		p.add(results.PhaseMeasure, c.Concurrency, mp)
	default:
		return nil, fmt.Errorf("unknown scenario %q", c.Scenario)
	}
	return p, nil
}

func (p *Plan) add(name string, conc int, prompts []Prompt) {
	next := 0
	for _, ph := range p.Phases {
		next += len(ph.Requests)
	}
	ph := PhasePlan{Name: name, Concurrency: conc}
	for i, pr := range prompts {
		ph.Requests = append(ph.Requests, PlannedRequest{Index: next + i, Prompt: pr})
	}
	p.Phases = append(p.Phases, ph)
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
	fmt.Fprintf(w, "scenario %s: %d phases, %d requests\n", p.Scenario, len(p.Phases), p.Total())
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PHASE\tREQUESTS\tCONCURRENCY\tFIRST INDEX\tTOKENS (MIN-MAX)")
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
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d-%d\n", ph.Name, len(ph.Requests), ph.Concurrency, first, lo, hi)
	}
	tw.Flush()
}
