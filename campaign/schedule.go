package campaign

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"kvbench/capture"
	"kvbench/results"
)

// Campaign run status values.
const (
	StatusPending     = "pending"
	StatusDone        = "done"        // a complete, valid bundle exists: skipped on resume
	StatusRedo        = "redo"        // an incomplete, crashed or invalid bundle exists: recovered if crashed, moved aside and re-run
	StatusCompleted   = "completed"   // ran in this invocation, valid
	StatusInvalid     = "invalid"     // ran in this invocation, invalid (the manifest says why)
	StatusInterrupted = "interrupted" // cut by an interrupt in this invocation; re-run on resume
)

// ScheduledRun is one entry of a campaign schedule.
type ScheduledRun struct {
	Position   int
	Block      int
	Arm        *ArmSpec
	Repetition int
	Scenario   string
	SweepPoint [][2]string // ordered axis=value pairs
	RunID      string
	Flags      Flags // resolved `capture run` flags, run-id and results-dir included
	Status     string
}

// Schedule expands the plan into its ordered runs. Interleaved order: each
// repetition is a block that visits every arm once; odd blocks visit the
// arms in the reverse order of the block before (ABBA), so no arm is always
// first or last; the arm order of even blocks and the order of scenario ×
// sweep points within an arm visit are seeded shuffles. Sequential order:
// every repetition of the first arm, then the next arm.
func (p *Plan) Schedule() []ScheduledRun {
	rng := rand.New(rand.NewPCG(p.Seed, 0x43414d504149474e))
	points := p.points()
	var out []ScheduledRun
	add := func(block int, arm *ArmSpec, rep int, order []int) {
		for _, i := range order {
			out = append(out, p.scheduled(len(out), block, arm, rep, i, points[i]))
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
			slices.Reverse(armOrder)
		}
		for _, a := range armOrder {
			order := append([]int(nil), idx...)
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			add(rep, &p.Arms[a], rep, order)
		}
	}
	return out
}

// scheduled is the run of arm at point i of repetition rep.
func (p *Plan) scheduled(position, block int, arm *ArmSpec, rep, i int, pt point) ScheduledRun {
	r := ScheduledRun{Position: position, Block: block, Arm: arm, Repetition: rep, Scenario: pt.scenario.Name,
		SweepPoint: pt.sweep, Status: StatusPending}
	r.RunID = runID(p.Campaign, arm.Name, pt, rep, len(p.Scenarios) > 1)
	r.Flags = p.flagsFor(arm, pt, r.RunID)
	if p.RotateSeeds == nil || *p.RotateSeeds {
		base := capture.DefaultRequestSeed
		if v, err := strconv.ParseUint(r.Flags.Get("request-seed"), 10, 64); err == nil {
			base = v
		}
		r.Flags["request-seed"] = []string{strconv.FormatUint(base+uint64(rep)*1000+uint64(i), 10)}
	}
	return r
}

type point struct {
	scenario *ScenarioSpec
	sweep    [][2]string
}

// points is the cross product of scenarios and sweep values, in plan order.
func (p *Plan) points() []point {
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

// flagsFor merges plan, scenario, arm and sweep flags (later wins) and
// adds the ones the campaign sets itself.
func (p *Plan) flagsFor(arm *ArmSpec, pt point, runID string) Flags {
	f := Flags{}
	for _, m := range []map[string]any{p.Run, pt.scenario.Run, arm.Run} {
		for k, v := range m {
			f[k] = values(v)
		}
	}
	if _, ok := f["scenario"]; !ok {
		f["scenario"] = []string{pt.scenario.Name}
	}
	for _, kv := range pt.sweep {
		f[kv[0]] = []string{kv[1]}
	}
	f["tier-mode"] = []string{arm.TierMode}
	f["results-dir"] = []string{p.Dir()}
	f["run-id"] = []string{runID}
	return f
}

// values renders a YAML value as flag values: a list gives one value per
// element (a repeatable flag such as stop), anything else one value.
func values(v any) []string {
	list, ok := v.([]any)
	if !ok {
		return []string{scalar(v)}
	}
	out := make([]string, len(list))
	for i, e := range list {
		out[i] = scalar(e)
	}
	return out
}

// scalar renders one YAML value as a flag value.
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
func ResolveStatus(p *Plan, runs []ScheduledRun) {
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
func PrintSchedule(w io.Writer, p *Plan, runs []ScheduledRun) {
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
func (r *ScheduledRun) SweepMap() map[string]string {
	if len(r.SweepPoint) == 0 {
		return nil
	}
	m := map[string]string{}
	for _, kv := range r.SweepPoint {
		m[kv[0]] = kv[1]
	}
	return m
}
