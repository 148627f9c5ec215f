package ingest

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"kvbench/results"
)

// Key identifies a statistics group.
type Key struct {
	Scenario    string
	Phase       string
	TierMode    string
	Concurrency int
	// Sweep is the campaign sweep point ("flag=value,..." sorted), empty
	// outside sweeps, so runs at different sweep points are never pooled.
	Sweep string
}

func (k Key) less(o Key) bool {
	if k.Scenario != o.Scenario {
		return k.Scenario < o.Scenario
	}
	if k.Phase != o.Phase {
		return phaseRank(k.Phase) < phaseRank(o.Phase) || (phaseRank(k.Phase) == phaseRank(o.Phase) && k.Phase < o.Phase)
	}
	if k.TierMode != o.TierMode {
		return k.TierMode < o.TierMode
	}
	if k.Concurrency != o.Concurrency {
		return k.Concurrency < o.Concurrency
	}
	return k.Sweep < o.Sweep
}

// sweepLabel is a run's campaign sweep point in canonical form.
func sweepLabel(m *results.Manifest) string {
	if m.Campaign == nil || len(m.Campaign.SweepPoint) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m.Campaign.SweepPoint))
	for k := range m.Campaign.SweepPoint {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m.Campaign.SweepPoint[k]
	}
	return strings.Join(parts, ",")
}

// phaseRank orders phases as they run, unknown phases last.
func phaseRank(p string) int {
	order := []string{results.PhaseWarmup, results.PhaseBaselineReplay, results.PhasePopulate, results.PhaseThrash,
		results.PhaseReplay, results.PhaseMeasure, results.PhaseReuse, results.PhaseBurst}
	if i := slices.Index(order, p); i >= 0 {
		return i
	}
	return len(order)
}

// Series is one run's observations within a group. Times are in
// milliseconds.
type Series struct {
	RunID   string
	TTFT    []float64 // successful requests that reported a first token
	Latency []float64 // successful requests
	// ITL holds each request's mean inter-token latency: (last chunk −
	// first chunk) / (chunks − 1). One value per request keeps the samples
	// about as independent as the requests; chunk gaps within a request are
	// strongly correlated and would make intervals too narrow.
	ITL      []float64
	Requests int
	Failures int
	// Window of the group's requests in this run, for throughput.
	FirstStartNs, LastEndNs int64
	OutputTokens            int64
}

// Group is the data of one key, run by run, runs sorted by id.
type Group struct {
	Key  Key
	Runs []*Series
}

// Dataset is everything analyze reads.
type Dataset struct {
	Bundles []Bundle
	Skipped []Skipped
	Groups  []*Group
	// Timelines holds, per run, a thinned sample of (time, TTFT) points
	// for the TTFT-over-time plot, in bundle order.
	Timelines []*Timeline
}

// Timeline is one run's TTFT over time.
type Timeline struct {
	RunID   string
	Arm     string
	StartNs int64 // run start (manifest)
	Phases  []results.Phase
	// Points are kept at most MaxTimelinePoints; beyond that every other
	// point is dropped, deterministically, so memory stays bounded.
	Points []TimePoint
	stride int
	seen   int
}

// TimePoint is one successful request: its start offset from the run
// start and its TTFT, both in seconds / milliseconds.
type TimePoint struct {
	TSec   float64
	TTFTMs float64
	Phase  string
}

// MaxTimelinePoints bounds the points kept per run for plotting.
const MaxTimelinePoints = 20000

func (t *Timeline) add(p TimePoint) {
	if t.stride == 0 {
		t.stride = 1
	}
	t.seen++
	if (t.seen-1)%t.stride != 0 {
		return
	}
	t.Points = append(t.Points, p)
	if len(t.Points) >= MaxTimelinePoints {
		kept := t.Points[:0]
		for i := 0; i < len(t.Points); i += 2 {
			kept = append(kept, t.Points[i])
		}
		t.Points = kept
		t.stride *= 2
	}
}

// Load discovers bundles under paths and reads their requests. Warmup
// requests are never included.
func Load(paths []string, f Filter) (*Dataset, error) {
	bundles, skipped, err := Discover(paths, f)
	if err != nil {
		return nil, err
	}
	ds := &Dataset{Skipped: skipped}
	groups := map[Key]*Group{}
	for _, b := range bundles {
		tl := &Timeline{RunID: b.Manifest.RunID, Arm: b.Manifest.TierMode, StartNs: b.Manifest.StartedUnixNs, Phases: b.Manifest.Phases}
		runGroups, err := readRun(b, f, tl)
		if err != nil {
			ds.Skipped = append(ds.Skipped, Skipped{Path: b.Dir, Reason: err.Error()})
			continue
		}
		ds.Bundles = append(ds.Bundles, b)
		ds.Timelines = append(ds.Timelines, tl)
		for k, s := range runGroups {
			g := groups[k]
			if g == nil {
				g = &Group{Key: k}
				groups[k] = g
			}
			g.Runs = append(g.Runs, s)
		}
	}
	for _, g := range groups {
		sort.Slice(g.Runs, func(i, j int) bool { return g.Runs[i].RunID < g.Runs[j].RunID })
		ds.Groups = append(ds.Groups, g)
	}
	sort.Slice(ds.Groups, func(i, j int) bool { return ds.Groups[i].Key.less(ds.Groups[j].Key) })
	return ds, nil
}

// readRun streams one bundle's requests table into per-group series.
func readRun(b Bundle, f Filter, tl *Timeline) (map[Key]*Series, error) {
	info, ok := b.Manifest.Tables[results.TableRequests]
	if !ok {
		return nil, fmt.Errorf("manifest lists no %s table", results.TableRequests)
	}
	path := filepath.Join(b.Dir, info.File)
	out := map[Key]*Series{}
	sweep := sweepLabel(b.Manifest)
	rows, err := scanRequests(path, func(r *requestCols) {
		if r.ErrorKind == "" && r.TTFTNs != nil && (len(f.Phases) == 0 || slices.Contains(f.Phases, r.Phase)) {
			tl.add(TimePoint{TSec: float64(r.StartUnixNs-tl.StartNs) / 1e9, TTFTMs: float64(*r.TTFTNs) / 1e6, Phase: r.Phase})
		}
		if r.Phase == results.PhaseWarmup {
			return
		}
		if len(f.Phases) > 0 && !slices.Contains(f.Phases, r.Phase) {
			return
		}
		k := Key{Scenario: r.Scenario, Phase: r.Phase, TierMode: r.TierMode, Concurrency: int(r.Concurrency), Sweep: sweep}
		s := out[k]
		if s == nil {
			s = &Series{RunID: b.Manifest.RunID}
			out[k] = s
		}
		add(s, r)
	})
	if err != nil {
		return nil, err
	}
	if rows != info.Rows {
		return nil, fmt.Errorf("%s has %d rows, manifest says %d", info.File, rows, info.Rows)
	}
	return out, nil
}

// requestCols are the columns of the requests table analyze needs; the
// reader decodes only these (the prompt text, ids and error messages are
// never read), which keeps memory and time per row low.
type requestCols struct {
	Scenario       string  `parquet:"scenario"`
	TierMode       string  `parquet:"tier_mode"`
	Phase          string  `parquet:"phase"`
	Concurrency    int32   `parquet:"concurrency"`
	OutputTokens   *int64  `parquet:"output_tokens,optional"`
	StartUnixNs    int64   `parquet:"start_unix_ns"`
	TTFTNs         *int64  `parquet:"ttft_ns,optional"`
	LatencyNs      int64   `parquet:"latency_ns"`
	ChunkOffsetsNs []int64 `parquet:"chunk_offsets_ns,list"`
	ErrorKind      string  `parquet:"error_kind"`
}

func add(s *Series, r *requestCols) {
	s.Requests++
	end := r.StartUnixNs + r.LatencyNs
	if s.FirstStartNs == 0 || r.StartUnixNs < s.FirstStartNs {
		s.FirstStartNs = r.StartUnixNs
	}
	if end > s.LastEndNs {
		s.LastEndNs = end
	}
	if r.ErrorKind != "" {
		s.Failures++
		return
	}
	s.Latency = append(s.Latency, float64(r.LatencyNs)/1e6)
	if r.TTFTNs != nil {
		s.TTFT = append(s.TTFT, float64(*r.TTFTNs)/1e6)
	}
	if n := len(r.ChunkOffsetsNs); n > 1 {
		s.ITL = append(s.ITL, float64(r.ChunkOffsetsNs[n-1]-r.ChunkOffsetsNs[0])/float64(n-1)/1e6)
	}
	if r.OutputTokens != nil {
		s.OutputTokens += *r.OutputTokens
	}
}

// Pooled returns every value of a metric across the group's runs.
func (g *Group) Pooled(metric func(*Series) []float64) []float64 {
	var out []float64
	for _, s := range g.Runs {
		out = append(out, metric(s)...)
	}
	return out
}

// Requests and Failures total the group's runs.
func (g *Group) Requests() (n, failures int) {
	for _, s := range g.Runs {
		n += s.Requests
		failures += s.Failures
	}
	return n, failures
}
