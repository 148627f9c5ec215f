package campaign

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"kvbench/capture"
	"kvbench/results"
)

// Plan is a declarative campaign: arms (server modes with the commands
// that switch the server), scenarios, sweep axes, repetitions and an
// ordering. The README documents the schema; `capture campaign validate`
// checks a file without touching the network.
type Plan struct {
	// Campaign is the campaign id; runs go to <results_dir>/<campaign>/.
	Campaign    string `yaml:"campaign"`
	ResultsDir  string `yaml:"results_dir"`
	Order       string `yaml:"order"` // interleaved (default) or sequential
	Seed        uint64 `yaml:"seed"`
	Repetitions int    `yaml:"repetitions"`
	// RotateSeeds gives each repetition and sweep point its own
	// --request-seed (the plan's seed plus an offset), identical across
	// arms, so runs of one arm on the same server never hit each other's
	// cached prompts while arms stay paired (default true).
	RotateSeeds *bool `yaml:"rotate_seeds"`
	// Run holds `capture run` flags shared by every run, by flag name.
	Run       map[string]any `yaml:"run"`
	Scenarios []ScenarioSpec `yaml:"scenarios"`
	Sweep     []SweepAxis    `yaml:"sweep"`
	Arms      []ArmSpec      `yaml:"arms"`
}

// ScenarioSpec is one scenario of a campaign with its own flags.
type ScenarioSpec struct {
	Name string         `yaml:"name"`
	Run  map[string]any `yaml:"run"`
}

// SweepAxis varies one `capture run` flag over values.
type SweepAxis struct {
	Flag   string `yaml:"flag"`
	Values []any  `yaml:"values"`
}

// ArmSpec is one server mode.
type ArmSpec struct {
	Name     string `yaml:"name"`
	TierMode string `yaml:"tier_mode"`
	// Run overrides `capture run` flags for this arm (e.g. base-url).
	Run map[string]any `yaml:"run"`
	// Start is a long-running server command the campaign starts when it
	// switches to this arm and stops when it leaves it (e.g. `capture sim`).
	Start []string `yaml:"start"`
	// Switch is a one-shot command that puts an external server in this
	// mode (e.g. a script that restarts the worker with DYN_KVBM_* set).
	Switch []string `yaml:"switch"`
	// Shell runs Start and Switch through /bin/sh -c: only when the plan
	// says so; otherwise they are argument lists and nothing is parsed.
	Shell bool `yaml:"shell"`
	// Env is added to the environment of Start, Switch and Flush.
	Env map[string]string `yaml:"env"`
	// Flush runs before every run of the arm (cache flush).
	Flush []string  `yaml:"flush"`
	Ready ReadySpec `yaml:"ready"`
	// CooldownAfter is the pause after the arm is ready: a Go duration or
	// seconds ("30s", 30); cooldown_s is its old spelling, in seconds.
	CooldownAfter string  `yaml:"cooldown"`
	Cooldown      float64 `yaml:"cooldown_s"`
	// Retries is how many times a run whose server was lost (capture's
	// --max-consecutive-failures, --unreachable-after) is tried again
	// after the arm's start or switch command has been run again; every
	// attempt's bundle is kept.
	Retries int `yaml:"retries"`
}

// ReadySpec says how to wait for a switched server.
type ReadySpec struct {
	// HealthURL defaults to <base-url>/health; "none" skips the check.
	HealthURL string `yaml:"health_url"`
	// Timeout is a Go duration or seconds ("10m", 600); timeout_s is its
	// old spelling, in seconds.
	Timeout  string  `yaml:"timeout"`
	TimeoutS float64 `yaml:"timeout_s"`
	// Smoke sends one short completion before the arm's first run
	// (default true).
	Smoke *bool `yaml:"smoke"`
}

var idRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// reserved are the run flags the campaign sets itself.
var reserved = []string{"run-id", "results-dir", "tier-mode", "kv-mode"}

// Load reads and checks a plan file strictly: unknown keys are errors.
func Load(path string) (*Plan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("campaign plan: %w", err)
	}
	p, err := Parse(data)
	if err == nil {
		err = p.checkRunFlagNames(data)
	}
	if err != nil {
		return nil, fmt.Errorf("campaign plan %s: %w", path, err)
	}
	if p.Campaign == "" {
		p.Campaign = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	return p, p.check()
}

// LoadSchedule loads a plan, expands its schedule and resolves every
// run's flags into a validated capture configuration, so that a plan with
// a bad flag fails before anything runs. Its errors are the plan's (usage
// errors).
func LoadSchedule(path string) (*Plan, []ScheduledRun, error) {
	p, err := Load(path)
	if err != nil {
		return nil, nil, err
	}
	runs := p.Schedule()
	for _, r := range runs {
		if _, err := r.Flags.Config(); err != nil {
			return nil, nil, fmt.Errorf("campaign plan %s: run %s: %w", path, r.RunID, err)
		}
	}
	return p, runs, nil
}

// Parse decodes plan YAML strictly.
func Parse(data []byte) (*Plan, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var p Plan
	if err := dec.Decode(&p); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty plan")
		}
		return nil, planError(err)
	}
	return &p, nil
}

// check validates the plan and fills in its defaults.
func (p *Plan) check() error {
	if !idRe.MatchString(p.Campaign) {
		return fmt.Errorf("campaign id %q: use letters, digits, '.', '_' and '-'", p.Campaign)
	}
	switch p.Order {
	case "":
		p.Order = "interleaved"
	case "interleaved", "sequential":
	default:
		return fmt.Errorf("order %q: want interleaved or sequential", p.Order)
	}
	if p.Repetitions == 0 {
		p.Repetitions = 3
	}
	if p.Repetitions < 1 {
		return fmt.Errorf("repetitions %d: need at least 1", p.Repetitions)
	}
	if p.ResultsDir == "" {
		p.ResultsDir = "results"
	}
	if err := p.checkArms(); err != nil {
		return err
	}
	if err := p.checkScenarios(); err != nil {
		return err
	}
	return p.checkFlags()
}

func (p *Plan) checkArms() error {
	if len(p.Arms) == 0 {
		return errors.New("no arms: a campaign compares at least one server mode")
	}
	names := map[string]bool{}
	for i := range p.Arms {
		a := &p.Arms[i]
		if !idRe.MatchString(a.Name) {
			return fmt.Errorf("arm %d: name %q: use letters, digits, '.', '_' and '-'", i+1, a.Name)
		}
		if names[a.Name] {
			return fmt.Errorf("arm %s: duplicate name", a.Name)
		}
		names[a.Name] = true
		if a.TierMode == "" {
			a.TierMode = a.Name
		}
		if _, _, err := results.ResolveModes(a.TierMode, ""); err != nil {
			return fmt.Errorf("arm %s: %v", a.Name, err)
		}
		if len(a.Start) > 0 && len(a.Switch) > 0 {
			return fmt.Errorf("arm %s: give start (a server the campaign runs) or switch (a one-shot command), not both", a.Name)
		}
		if err := a.durations(); err != nil {
			return err
		}
		if a.Cooldown < 0 || a.Ready.TimeoutS < 0 || a.Retries < 0 {
			return fmt.Errorf("arm %s: cooldown, ready.timeout and retries must not be negative", a.Name)
		}
	}
	return nil
}

// durations reads cooldown and ready.timeout (Go durations or seconds)
// into their seconds fields.
func (a *ArmSpec) durations() error {
	for _, d := range []struct {
		key, val string
		to       *float64
	}{{"cooldown", a.CooldownAfter, &a.Cooldown}, {"ready.timeout", a.Ready.Timeout, &a.Ready.TimeoutS}} {
		if d.val == "" {
			continue
		}
		v, err := capture.ParseDuration(d.val)
		if err != nil {
			return fmt.Errorf("arm %s: %s: %v", a.Name, d.key, err)
		}
		*d.to = v.Seconds()
	}
	return nil
}

// checkScenarios names each scenario: its name, else its scenario flag,
// else the plan's, else the default scenario.
func (p *Plan) checkScenarios() error {
	if len(p.Scenarios) == 0 {
		p.Scenarios = []ScenarioSpec{{}}
	}
	for i := range p.Scenarios {
		s := &p.Scenarios[i]
		if s.Name == "" {
			if v, ok := s.Run["scenario"]; ok {
				s.Name = fmt.Sprint(v)
			} else if v, ok := p.Run["scenario"]; ok {
				s.Name = fmt.Sprint(v)
			} else {
				s.Name = capture.ScenarioStandard
			}
		}
		if !idRe.MatchString(s.Name) {
			return fmt.Errorf("scenario %d: name %q: use letters, digits, '.', '_' and '-'", i+1, s.Name)
		}
	}
	return nil
}

// checkFlags refuses the flags the campaign sets itself and sweep values
// that are not one flag value each.
func (p *Plan) checkFlags() error {
	for _, ax := range p.Sweep {
		if ax.Flag == "" || len(ax.Values) == 0 {
			return fmt.Errorf("sweep axis %q: needs a flag and at least one value", ax.Flag)
		}
		if slices.Contains(reserved, ax.Flag) {
			return fmt.Errorf("sweep axis %s: the campaign sets this flag itself", ax.Flag)
		}
		for _, v := range ax.Values {
			if _, ok := v.([]any); ok {
				return fmt.Errorf("sweep axis %s: value %v is a list; each sweep value is one flag value", ax.Flag, v)
			}
		}
	}
	maps := []map[string]any{p.Run}
	for _, a := range p.Arms {
		maps = append(maps, a.Run)
	}
	for _, s := range p.Scenarios {
		maps = append(maps, s.Run)
	}
	for _, m := range maps {
		for _, flag := range reserved {
			if _, ok := m[flag]; ok {
				return fmt.Errorf("run flag %s: the campaign sets this flag itself", flag)
			}
		}
	}
	return nil
}

// checkRunFlagNames refuses a run flag (in run:, an arm's or a
// scenario's run:, or a sweep axis) that capture run does not have, with
// its line and the nearest flag name.
func (p *Plan) checkRunFlagNames(data []byte) error {
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	var rf capture.RunFlags
	rf.Register(fs)
	names := []string{}
	for _, m := range p.runMaps() {
		names = append(names, slices.Sorted(maps.Keys(m))...)
	}
	for _, ax := range p.Sweep {
		if ax.Flag != "" {
			names = append(names, ax.Flag)
		}
	}
	for _, n := range names {
		if fs.Lookup(n) != nil {
			continue
		}
		where := ""
		if l := keyLine(data, n); l > 0 {
			where = fmt.Sprintf("line %d: ", l)
		}
		return fmt.Errorf("%sunknown run flag %q (run keys are capture run's flag names)%s", where, n, suggest(n, runFlagNames()))
	}
	return nil
}

// runMaps lists every run: mapping of the plan.
func (p *Plan) runMaps() []map[string]any {
	out := []map[string]any{p.Run}
	for _, a := range p.Arms {
		out = append(out, a.Run)
	}
	for _, s := range p.Scenarios {
		out = append(out, s.Run)
	}
	return out
}

// Dir is the campaign's directory.
func (p *Plan) Dir() string { return filepath.Join(p.ResultsDir, p.Campaign) }

// Warnings lists what a plan allows but a real campaign would regret: a
// B1 or B2 arm whose runs have no --metrics-kvbm-url (and no start
// command that could announce one) captures no KVBM counters, so its runs
// cannot show whether KVBM offloaded or onboarded.
func (p *Plan) Warnings(runs []ScheduledRun) []string {
	var out []string
	warned := map[string]bool{}
	for _, r := range runs {
		tier := r.Arm.TierMode
		if (tier != "B1" && tier != "B2") || len(r.Arm.Start) > 0 || r.Flags.Get("metrics-kvbm-url") != "" || warned[r.Arm.Name] {
			continue
		}
		warned[r.Arm.Name] = true
		out = append(out, fmt.Sprintf("arm %s (%s) sets no metrics-kvbm-url: its runs capture no KVBM counters (set run: {metrics-kvbm-url: http://127.0.0.1:6880/metrics}, KVBM's default port)", r.Arm.Name, tier))
	}
	return out
}
