package capture

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"kvbench/capture/telemetry"
	"kvbench/results"
)

// Scenarios known to capture.
const (
	ScenarioStandard        = "standard"
	ScenarioEvictionReplay  = "eviction_replay"
	ScenarioReuseVerify     = "reuse_verify"
	ScenarioCopilotBurst    = "local_copilot_burst"
	ScenarioRehydrateReplay = "rehydrate_replay"
	ScenarioTrace           = results.ScenarioTrace
)

// Scenarios lists the scenarios in the order the help text gives them.
var Scenarios = []string{ScenarioStandard, ScenarioEvictionReplay, ScenarioReuseVerify, ScenarioCopilotBurst, ScenarioRehydrateReplay, ScenarioTrace}

// DefaultRequestSeed is the seed of the prompt sets when --request-seed is
// not given; campaigns rotate seeds from it too.
const DefaultRequestSeed uint64 = 1337

// DurationCap is how many requests a --duration run with --requests 0
// plans at most in closed loop: every planned prompt is built before the
// run, so "unlimited" has this bound (open loop plans 1.5 times the
// arrivals the duration holds, plus 64).
const DurationCap = 50000

// DefaultGrace is how long in-flight requests may finish after an
// interrupt when Config.Grace is not set.
const DefaultGrace = 5 * time.Second

// Config is what the user asked for, from the flags of `capture run` (see
// RunFlags) or built by a program. It is validated before a run and never
// changed by one: what a run resolves (run id, model, calibration, modes)
// lives in its Plan. The API key is held here only to be sent; it is
// never written anywhere.
type Config struct {
	BaseURL   string
	Model     string // "" = the first model the server lists
	TierMode  string // one of TierMode and KVMode implies the other
	KVMode    string
	Scenario  string
	PromptSet string
	LongRange Range

	Requests int
	// Duration ends the measure phase of the standard scenario after this
	// long (no request starts after it; those in flight finish); Requests
	// is then the cap, and 0 means DurationCap.
	Duration    time.Duration
	Warmup      int
	Concurrency int
	MaxTokens   int
	Temperature float64
	TopP        float64
	RequestSeed uint64
	Stop        []string
	// SLO is recorded with the run (as the "slo" flag) for analyze's
	// goodput; capture does not act on it.
	SLO    results.SLO
	Stream bool

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
	CopilotSessions   int
	CopilotBursts     int
	CopilotBurstSize  int
	CopilotThink      time.Duration
	CopilotEditTokens int

	// rehydrate_replay
	RehydratePopulateRequests    int
	RehydrateThrashRequests      int
	RehydratePopulateConcurrency int
	RehydrateThrashConcurrency   int
	RehydrateReplayConcurrency   int
	RehydrateBaselineConcurrency int

	// trace (see trace.go and traceplan.go)
	TraceConfig

	// Token budget: prompt tokens + max_tokens above MaxNumTokens is caught
	// before sending.
	MaxNumTokens       int
	AllowPreflightSkip bool
	// Calibrate fits prompt words to server tokens before the plan is
	// built; without it one word is taken for one token.
	Calibrate bool

	RunID      string // "" = scenario, UTC stamp to the millisecond, random suffix
	ResultsDir string

	APIKey              string
	RequestTimeout      time.Duration
	ModelResolveTimeout time.Duration
	ModelResolvePoll    time.Duration
	MaxErrorRate        float64
	MaxScheduleLag      time.Duration
	StoreResponses      bool
	Grace               time.Duration // 0 = DefaultGrace

	// DurableInterval is the longest a finished request (or a telemetry
	// sample) waits before it is in a closed, fsynced part file; 0 writes
	// each table at the end only.
	DurableInterval time.Duration
	// A lost server stops the run: MaxConsecutiveFailures connection
	// failures in a row without a success, or failures with no success for
	// UnreachableAfter (0 turns either rule off).
	MaxConsecutiveFailures int
	UnreachableAfter       time.Duration

	// Flags holds every resolved flag by name, for the manifest.
	Flags map[string]string

	// Telemetry says which samplers run alongside the requests.
	Telemetry telemetry.Options

	// Campaign places the run in a campaign (nil for a stand-alone run).
	Campaign *results.CampaignRef
}

// Validate checks the configuration without touching the network or
// changing it.
func (c *Config) Validate() error {
	if c.BaseURL == "" {
		return fmt.Errorf("--base-url is required")
	}
	if !strings.HasPrefix(c.BaseURL, "http://") && !strings.HasPrefix(c.BaseURL, "https://") {
		return fmt.Errorf("--base-url %q: want http://HOST:PORT or https://HOST:PORT", c.BaseURL)
	}
	if _, _, err := results.ResolveModes(c.TierMode, c.KVMode); err != nil {
		return err
	}
	if !slices.Contains(Scenarios, c.Scenario) {
		return fmt.Errorf("unknown scenario %q (want one of %s)", c.Scenario, strings.Join(Scenarios, ", "))
	}
	if !slices.Contains(PromptSets, c.PromptSet) {
		return fmt.Errorf("unknown prompt set %q (want one of %s)", c.PromptSet, strings.Join(PromptSets, ", "))
	}
	if c.Scenario == ScenarioReuseVerify && !slices.Contains(PromptSets, c.ReusePromptSet) {
		return fmt.Errorf("unknown --reuse-prompt-set %q (want one of %s)", c.ReusePromptSet, strings.Join(PromptSets, ", "))
	}
	for _, p := range c.counts() {
		if p.v < 1 {
			return fmt.Errorf("%s %d: need at least 1", p.name, p.v)
		}
	}
	if err := c.checkRanges(); err != nil {
		return err
	}
	if err := c.checkTrace(); err != nil {
		return err
	}
	return c.Telemetry.Validate()
}

// positive is a flag value that must be at least 1.
type positive struct {
	name string
	v    int
}

// counts lists the counts that must be at least 1, by flag name; scenario
// flags only matter for their scenario.
func (c *Config) counts() []positive {
	out := []positive{{"--concurrency", c.Concurrency}, {"--max-tokens", c.MaxTokens}}
	if c.Duration == 0 || c.Requests != 0 {
		out = append(out, positive{"--requests", c.Requests})
	}
	switch c.Scenario {
	case ScenarioEvictionReplay:
		out = append(out, positive{"--eviction-a-requests", c.EvictionARequests}, positive{"--eviction-b-requests", c.EvictionBRequests},
			positive{"--eviction-a-concurrency", c.EvictionAConcurrency}, positive{"--eviction-b-concurrency", c.EvictionBConcurrency})
	case ScenarioReuseVerify:
		out = append(out, positive{"--reuse-repeat-count", c.ReuseRepeatCount})
	case ScenarioCopilotBurst:
		out = append(out, positive{"--copilot-sessions", c.CopilotSessions}, positive{"--copilot-bursts", c.CopilotBursts},
			positive{"--copilot-burst-size", c.CopilotBurstSize}, positive{"--copilot-edit-tokens", c.CopilotEditTokens})
	case ScenarioRehydrateReplay:
		out = append(out, positive{"--rehydrate-populate-requests", c.RehydratePopulateRequests},
			positive{"--rehydrate-thrash-requests", c.RehydrateThrashRequests},
			positive{"--rehydrate-populate-concurrency", c.RehydratePopulateConcurrency},
			positive{"--rehydrate-thrash-concurrency", c.RehydrateThrashConcurrency},
			positive{"--rehydrate-replay-concurrency", c.RehydrateReplayConcurrency},
			positive{"--rehydrate-baseline-replay-concurrency", c.RehydrateBaselineConcurrency})
	}
	return out
}

// checkRanges checks the values that have a range other than "at least 1".
func (c *Config) checkRanges() error {
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
	case c.Duration < 0:
		return fmt.Errorf("--duration %s: must not be negative", c.Duration)
	case c.Duration > 0 && c.Scenario != ScenarioStandard:
		return fmt.Errorf("--duration: only the %s scenario runs for a duration (%s runs its planned phases)", ScenarioStandard, c.Scenario)
	case c.Duration > 0 && c.Requests < 0:
		return fmt.Errorf("--requests %d: with --duration, the cap on requests (0: no cap but %d)", c.Requests, DurationCap)
	case c.CopilotThink < 0:
		return fmt.Errorf("--copilot-think: must not be negative")
	case c.DurableInterval < 0:
		return fmt.Errorf("--durable-interval %s: must not be negative", c.DurableInterval)
	case c.MaxConsecutiveFailures < 0:
		return fmt.Errorf("--max-consecutive-failures %d: must not be negative", c.MaxConsecutiveFailures)
	case c.UnreachableAfter < 0:
		return fmt.Errorf("--unreachable-after %s: must not be negative", c.UnreachableAfter)
	case c.RunID != "" && (strings.ContainsAny(c.RunID, `/\`) || c.RunID == "." || c.RunID == ".." || strings.HasPrefix(c.RunID, ".")):
		return fmt.Errorf("--run-id %q: must be a plain directory name", c.RunID)
	}
	return nil
}

// measureRequests is how many requests the standard scenario's measure
// phase plans: --requests, or with --duration and --requests 0 a bound
// the duration cannot reach (DurationCap in closed loop).
func (c *Config) measureRequests() int {
	if c.Duration <= 0 || c.Requests > 0 {
		return c.Requests
	}
	if c.RequestRate > 0 {
		return int(math.Ceil(1.5*c.RequestRate*c.Duration.Seconds())) + 64
	}
	return DurationCap
}

// maxConcurrency is the most requests any phase has in flight; it sizes
// the client's connection pool.
func (c *Config) maxConcurrency() int {
	n := max(1, c.Concurrency)
	for _, v := range []int{c.EvictionAConcurrency, c.EvictionBConcurrency, c.RehydratePopulateConcurrency,
		c.RehydrateThrashConcurrency, c.RehydrateReplayConcurrency, c.RehydrateBaselineConcurrency,
		c.CopilotSessions * c.CopilotBurstSize} {
		n = max(n, v)
	}
	return n
}

// grace is how long in-flight requests may finish after an interrupt.
func (c *Config) grace() time.Duration {
	if c.Grace <= 0 {
		return DefaultGrace
	}
	return c.Grace
}
