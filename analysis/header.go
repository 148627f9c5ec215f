package analysis

import (
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"kvbench/results"
)

// SimulatorModel is the model name `capture sim` serves by default. A run
// against that model is taken to be a simulator run: the manifests record
// no other sign of the simulator. Note: package sim holds the same name
// (sim.DefaultModel); analysis may not import it, and a test of package
// report's callers checks the two agree.
const SimulatorModel = "kvbench/sim-8b"

// Header says what was measured: the target, the capture hosts, the tool
// versions, when the runs started and the settings every run shared.
// ConfigDiffs holds the settings that differ.
type Header struct {
	Targets []Target
	Hosts   []results.Host
	// ToolVersions are the capture versions in the manifests, sorted.
	ToolVersions []string
	// FirstStartNs and LastStartNs are the earliest and latest run start
	// (Unix nanoseconds); 0 when no manifest recorded one.
	FirstStartNs, LastStartNs int64
	// Campaigns are the campaign ids of the runs, sorted ("" excluded).
	Campaigns []string
	// Scenarios are the scenarios of the runs, in first-seen order.
	Scenarios []string
	// Shared holds every setting all runs recorded with the same value,
	// sorted by key (per-run settings such as the run id excluded).
	Shared []Setting
	// PhaseConcurrency is each measured phase's concurrency, in phase
	// order, when every run agrees on it.
	PhaseConcurrency []Setting
}

// Target is one server the runs measured.
type Target struct {
	Model string
	// Host is the base URL's host name, without the port (the simulator
	// binds a new port for each arm).
	Host string
	// Simulator is true when the model is SimulatorModel.
	Simulator bool
	// Arms lists the arms that ran against this target, sorted.
	Arms []string
}

// Setting is a capture setting and its value.
type Setting struct {
	Key, Value string
}

// header builds the Header of a set of manifests.
func header(manifests []*results.Manifest) Header {
	var h Header
	campaigns := map[string]bool{}
	versions := map[string]bool{}
	for _, m := range manifests {
		h.addTarget(m)
		if !slices.Contains(h.Hosts, m.Host) {
			h.Hosts = append(h.Hosts, m.Host)
		}
		if m.ToolVersion != "" {
			versions[m.ToolVersion] = true
		}
		if m.Campaign != nil && m.Campaign.ID != "" {
			campaigns[m.Campaign.ID] = true
		}
		if m.Scenario != "" && !slices.Contains(h.Scenarios, m.Scenario) {
			h.Scenarios = append(h.Scenarios, m.Scenario)
		}
		if s := m.StartedUnixNs; s > 0 {
			if h.FirstStartNs == 0 || s < h.FirstStartNs {
				h.FirstStartNs = s
			}
			h.LastStartNs = max(h.LastStartNs, s)
		}
	}
	for i := range h.Targets {
		slices.Sort(h.Targets[i].Arms)
	}
	h.ToolVersions = slices.Sorted(maps.Keys(versions))
	h.Campaigns = slices.Sorted(maps.Keys(campaigns))
	h.Shared = sharedSettings(manifests)
	h.PhaseConcurrency = phaseConcurrency(manifests)
	return h
}

// addTarget records the target of one run.
func (h *Header) addTarget(m *results.Manifest) {
	host := m.BaseURL
	if u, err := url.Parse(m.BaseURL); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	t := Target{Model: m.Model, Host: host, Simulator: m.Model == SimulatorModel}
	for i := range h.Targets {
		if h.Targets[i].Model == t.Model && h.Targets[i].Host == t.Host {
			if !slices.Contains(h.Targets[i].Arms, m.TierMode) {
				h.Targets[i].Arms = append(h.Targets[i].Arms, m.TierMode)
			}
			return
		}
	}
	t.Arms = []string{m.TierMode}
	h.Targets = append(h.Targets, t)
}

// sharedSettings returns the settings every manifest records with the
// same value.
func sharedSettings(manifests []*results.Manifest) []Setting {
	if len(manifests) == 0 {
		return nil
	}
	var out []Setting
	for _, k := range slices.Sorted(maps.Keys(manifests[0].Config)) {
		if perRunKeys[k] {
			continue
		}
		v := manifests[0].Config[k]
		same := true
		for _, m := range manifests[1:] {
			if w, ok := m.Config[k]; !ok || w != v {
				same = false
				break
			}
		}
		if same {
			out = append(out, Setting{Key: k, Value: v})
		}
	}
	return out
}

// phaseConcurrency returns each non-warmup phase's concurrency when every
// run that has the phase agrees on it; a phase whose runs disagree is
// listed with the values joined by "/".
func phaseConcurrency(manifests []*results.Manifest) []Setting {
	vals := map[string]map[int]bool{}
	var names []string
	for _, m := range manifests {
		for _, ph := range m.Phases {
			if results.PhaseRole(ph.Name) == results.RoleWarmup || ph.ScheduledOnly {
				continue
			}
			if vals[ph.Name] == nil {
				vals[ph.Name] = map[int]bool{}
				names = append(names, ph.Name)
			}
			vals[ph.Name][ph.Concurrency] = true
		}
	}
	slices.SortStableFunc(names, func(a, b string) int { return results.PhaseOrder(a) - results.PhaseOrder(b) })
	out := make([]Setting, 0, len(names))
	for _, n := range names {
		var vs []string
		for _, c := range slices.Sorted(maps.Keys(vals[n])) {
			vs = append(vs, strconv.Itoa(c))
		}
		out = append(out, Setting{Key: n, Value: strings.Join(vs, "/")})
	}
	return out
}
