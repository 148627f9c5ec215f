package capture

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"go.yaml.in/yaml/v3"

	"kvbench/results"
)

// CampaignPlan is a declarative campaign: arms (server modes with the
// commands that switch the server), scenarios, sweep axes, repetitions and
// an ordering. The README documents the schema; `capture campaign validate`
// checks a file without touching the network.
type CampaignPlan struct {
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
	Flush    []string  `yaml:"flush"`
	Ready    ReadySpec `yaml:"ready"`
	Cooldown float64   `yaml:"cooldown_s"`
}

// ReadySpec says how to wait for a switched server.
type ReadySpec struct {
	// HealthURL defaults to <base-url>/health; "none" skips the check.
	HealthURL string  `yaml:"health_url"`
	TimeoutS  float64 `yaml:"timeout_s"`
	// Smoke sends one short completion before the arm's first run
	// (default true).
	Smoke *bool `yaml:"smoke"`
}

// Campaign run status values.
const (
	StatusPending   = "pending"
	StatusDone      = "done"      // a complete, valid bundle exists: skipped on resume
	StatusRedo      = "redo"      // an incomplete or invalid bundle exists: moved aside and re-run
	StatusCompleted = "completed" // ran in this invocation
)

// CampaignRun is one entry of a campaign schedule.
type CampaignRun struct {
	Position   int
	Block      int
	Arm        *ArmSpec
	Repetition int
	Scenario   string
	SweepPoint [][2]string // ordered axis=value pairs
	RunID      string
	Flags      map[string]string // resolved `capture run` flags
	Status     string
}

var idRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// LoadCampaign reads and checks a plan file strictly: unknown keys are
// errors.
func LoadCampaign(path string) (*CampaignPlan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("campaign plan: %w", err)
	}
	p, err := ParseCampaign(data)
	if err != nil {
		return nil, fmt.Errorf("campaign plan %s: %w", path, err)
	}
	if p.Campaign == "" {
		p.Campaign = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	return p, p.check()
}

// ParseCampaign decodes plan YAML strictly.
func ParseCampaign(data []byte) (*CampaignPlan, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var p CampaignPlan
	if err := dec.Decode(&p); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty plan")
		}
		return nil, err
	}
	return &p, nil
}

func (p *CampaignPlan) check() error {
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
		if a.Cooldown < 0 || a.Ready.TimeoutS < 0 {
			return fmt.Errorf("arm %s: cooldown_s and ready.timeout_s must not be negative", a.Name)
		}
	}
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
				s.Name = "standard"
			}
		}
		if !idRe.MatchString(s.Name) {
			return fmt.Errorf("scenario %d: name %q: use letters, digits, '.', '_' and '-'", i+1, s.Name)
		}
	}
	for _, ax := range p.Sweep {
		if ax.Flag == "" || len(ax.Values) == 0 {
			return fmt.Errorf("sweep axis %q: needs a flag and at least one value", ax.Flag)
		}
		for _, reserved := range []string{"run-id", "results-dir", "tier-mode", "kv-mode"} {
			if ax.Flag == reserved {
				return fmt.Errorf("sweep axis %s: the campaign sets this flag itself", ax.Flag)
			}
		}
	}
	for _, m := range append([]map[string]any{p.Run}, armRuns(p)...) {
		for _, reserved := range []string{"run-id", "results-dir", "tier-mode", "kv-mode"} {
			if _, ok := m[reserved]; ok {
				return fmt.Errorf("run flag %s: the campaign sets this flag itself", reserved)
			}
		}
	}
	return nil
}

func armRuns(p *CampaignPlan) []map[string]any {
	var out []map[string]any
	for _, a := range p.Arms {
		out = append(out, a.Run)
	}
	for _, s := range p.Scenarios {
		out = append(out, s.Run)
	}
	return out
}

// Dir is the campaign's directory.
func (p *CampaignPlan) Dir() string { return filepath.Join(p.ResultsDir, p.Campaign) }

// Schedule expands the plan into its ordered runs. Interleaved order: each
// repetition is a block that visits every arm once; odd blocks visit the
// arms in the reverse order of the block before (ABBA), so no arm is always
// first or last; the arm order of even blocks and the order of scenario ×
// sweep points within an arm visit are seeded shuffles. Sequential order:
// every repetition of the first arm, then the next arm.
func (p *CampaignPlan) Schedule() []CampaignRun {
	rng := rand.New(rand.NewPCG(p.Seed, 0x43414d504149474e))
	points := p.points()
	var out []CampaignRun
	rotate := p.RotateSeeds == nil || *p.RotateSeeds
	add := func(block int, arm *ArmSpec, rep int, order []int) {
		for _, i := range order {
			pt := points[i]
			r := CampaignRun{Block: block, Arm: arm, Repetition: rep, Scenario: pt.scenario.Name, SweepPoint: pt.sweep, Status: StatusPending}
			r.Flags = p.flagsFor(arm, pt)
			if rotate {
				base := uint64(1337)
				if v, err := strconv.ParseUint(r.Flags["request-seed"], 10, 64); err == nil {
					base = v
				}
				r.Flags["request-seed"] = strconv.FormatUint(base+uint64(rep)*1000+uint64(i), 10)
			}
			r.RunID = runID(p.Campaign, arm.Name, pt, rep, len(p.Scenarios) > 1)
			r.Position = len(out)
			out = append(out, r)
		}
	}
	idx := make([]int, len(points))
	for i := range idx {
		idx[i] = i
	}
	if p.Order == "sequential" {
		for a := range p.Arms {
			for rep := 0; rep < p.Repetitions; rep++ {
				add(rep, &p.Arms[a], rep, idx)
			}
		}
		return out
	}
	armOrder := make([]int, len(p.Arms))
	for i := range armOrder {
		armOrder[i] = i
	}
	for rep := 0; rep < p.Repetitions; rep++ {
		if rep%2 == 0 {
			rng.Shuffle(len(armOrder), func(i, j int) { armOrder[i], armOrder[j] = armOrder[j], armOrder[i] })
		} else {
			for i, j := 0, len(armOrder)-1; i < j; i, j = i+1, j-1 {
				armOrder[i], armOrder[j] = armOrder[j], armOrder[i]
			}
		}
		for _, a := range armOrder {
			order := append([]int(nil), idx...)
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			add(rep, &p.Arms[a], rep, order)
		}
	}
	return out
}

type point struct {
	scenario *ScenarioSpec
	sweep    [][2]string
}

// points is the cross product of scenarios and sweep values, in plan order.
func (p *CampaignPlan) points() []point {
	pts := []point{}
	for i := range p.Scenarios {
		pts = append(pts, point{scenario: &p.Scenarios[i]})
	}
	for _, ax := range p.Sweep {
		var next []point
		for _, pt := range pts {
			for _, v := range ax.Values {
				sw := append(append([][2]string(nil), pt.sweep...), [2]string{ax.Flag, scalar(v)})
				next = append(next, point{scenario: pt.scenario, sweep: sw})
			}
		}
		pts = next
	}
	return pts
}

// flagsFor merges plan, scenario, arm and sweep flags (later wins).
func (p *CampaignPlan) flagsFor(arm *ArmSpec, pt point) map[string]string {
	f := map[string]string{}
	for _, m := range []map[string]any{p.Run, pt.scenario.Run, arm.Run} {
		for k, v := range m {
			f[k] = scalar(v)
		}
	}
	if _, ok := f["scenario"]; !ok {
		f["scenario"] = pt.scenario.Name
	}
	for _, kv := range pt.sweep {
		f[kv[0]] = kv[1]
	}
	f["tier-mode"] = arm.TierMode
	f["results-dir"] = p.Dir()
	return f
}

// ListSep joins the elements of a list value (for repeatable flags such
// as --stop); it cannot occur in YAML text values by accident.
const ListSep = "\x1f"

// scalar renders a YAML value as a flag value; lists become repeated
// values joined by ListSep.
func scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = scalar(e)
		}
		return strings.Join(parts, ListSep)
	}
	return fmt.Sprint(v)
}

func runID(campaign, arm string, pt point, rep int, withScenario bool) string {
	parts := []string{campaign, arm}
	if withScenario {
		parts = append(parts, pt.scenario.Name)
	}
	for _, kv := range pt.sweep {
		parts = append(parts, abbrev(kv[0])+kv[1])
	}
	parts = append(parts, fmt.Sprintf("r%d", rep+1))
	return sanitize(strings.Join(parts, "_"))
}

// abbrev shortens a flag name to its initials: rehydrate-replay-concurrency → rrc.
func abbrev(flag string) string {
	var b strings.Builder
	for _, w := range strings.Split(flag, "-") {
		if w != "" {
			b.WriteByte(w[0])
		}
	}
	return b.String()
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.' {
			return r
		}
		return '-'
	}, s)
}

// ResolveStatus marks each run done (complete, valid bundle) or redo
// (anything else already on disk), for resume.
func ResolveStatus(p *CampaignPlan, runs []CampaignRun) {
	for i := range runs {
		dir := filepath.Join(p.Dir(), runs[i].RunID)
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		m, err := results.ReadManifest(dir)
		if err == nil && m.Valid && !m.Interrupted {
			runs[i].Status = StatusDone
		} else {
			runs[i].Status = StatusRedo
		}
	}
}

// PrintSchedule writes the schedule as a table (for --dry-run).
func PrintSchedule(w io.Writer, p *CampaignPlan, runs []CampaignRun) {
	fmt.Fprintf(w, "campaign %s: %d runs, %d arms, order %s, seed %d, into %s\n", p.Campaign, len(runs), len(p.Arms), p.Order, p.Seed, p.Dir())
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "POS\tBLOCK\tARM\tREP\tSCENARIO\tSWEEP\tRUN ID\tSTATUS")
	for _, r := range runs {
		var sw []string
		for _, kv := range r.SweepPoint {
			sw = append(sw, kv[0]+"="+kv[1])
		}
		s := strings.Join(sw, " ")
		if s == "" {
			s = "-"
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%d\t%s\t%s\t%s\t%s\n", r.Position+1, r.Block+1, r.Arm.Name, r.Repetition+1, r.Scenario, s, r.RunID, r.Status)
	}
	tw.Flush()
}

// SweepMap returns a run's sweep point as a map, for the manifest.
func (r *CampaignRun) SweepMap() map[string]string {
	if len(r.SweepPoint) == 0 {
		return nil
	}
	m := map[string]string{}
	for _, kv := range r.SweepPoint {
		m[kv[0]] = kv[1]
	}
	return m
}

// sortedKeys is used where flag maps are printed.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
