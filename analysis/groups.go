package analysis

import (
	"maps"
	"slices"
	"sort"
	"strings"

	"kvbench/ingest"
	"kvbench/results"
	"kvbench/stats"
)

// groupKey identifies a statistics group.
type groupKey struct {
	scenario    string
	phase       string
	arm         string
	concurrency int
	// sweep is the campaign sweep point ("flag=value,..." sorted), empty
	// outside sweeps, so runs at different sweep points are never pooled.
	sweep string
	// pass is the 1-based pass of a phase the scenario repeats
	// (reuse_verify's reuse phases); 0 for a phase that runs once.
	pass int
	// split divides a trace run's requests by whether their prefix was
	// seen earlier in the trace (results.TraceSplit); empty elsewhere.
	split string
}

func (k groupKey) less(o groupKey) bool {
	if k.scenario != o.scenario {
		return k.scenario < o.scenario
	}
	if k.phase != o.phase {
		rk, ro := results.PhaseOrder(k.phase), results.PhaseOrder(o.phase)
		return rk < ro || (rk == ro && k.phase < o.phase)
	}
	if k.pass != o.pass {
		return k.pass < o.pass
	}
	if k.arm != o.arm {
		return k.arm < o.arm
	}
	if k.concurrency != o.concurrency {
		return k.concurrency < o.concurrency
	}
	if k.sweep != o.sweep {
		return k.sweep < o.sweep
	}
	return k.split < o.split
}

// series is one run's observations within a group, in nanoseconds.
type series struct {
	runID   string
	ttft    []float64 // successful requests that reported a first token
	latency []float64 // successful requests
	// itl holds each request's mean inter-token latency: (last chunk −
	// first chunk) / (chunks − 1). One value per request keeps the samples
	// about as independent as the requests; chunk gaps within a request are
	// strongly correlated and would make intervals too narrow.
	itl      []float64
	requests int
	failures int
	// Window of the group's requests in this run, for throughput.
	firstStartNs, lastEndNs int64
	outputTokens            int64
	// slo is the run's service-level objective; good counts the requests
	// that meet it when it is set.
	slo  results.SLO
	good int
}

func (s *series) add(q *ingest.Request) {
	s.requests++
	end := q.StartUnixNs + q.LatencyNs
	if s.firstStartNs == 0 || q.StartUnixNs < s.firstStartNs {
		s.firstStartNs = q.StartUnixNs
	}
	if end > s.lastEndNs {
		s.lastEndNs = end
	}
	if s.slo.IsSet() && meetsSLO(s.slo, q) {
		s.good++
	}
	if q.ErrorKind != "" {
		s.failures++
		return
	}
	s.latency = append(s.latency, float64(q.LatencyNs))
	if q.HasTTFT {
		s.ttft = append(s.ttft, float64(q.TTFTNs))
	}
	if q.Chunks > 1 {
		s.itl = append(s.itl, float64(q.LastChunkNs-q.FirstChunkNs)/float64(q.Chunks-1))
	}
	if q.HasOutputTokens {
		s.outputTokens += q.OutputTokens
	}
}

// group is the data of one key, run by run.
type group struct {
	key  groupKey
	runs []*series
}

// requests totals the group's runs.
func (g *group) requests() (n, failures int) {
	for _, s := range g.runs {
		n += s.requests
		failures += s.failures
	}
	return n, failures
}

// metrics are the per-request metrics analysed per group, in report order.
// Failed requests are censored observations of TTFT and latency (they would
// have been slow); ITL has no such count.
//
// Note: stream names the metric in the random streams of the bootstrap.
// They are the names the metrics had when analyze kept milliseconds, so
// the same seed still gives the same intervals as before.
var metrics = []requestMetric{
	{results.MetricTTFT, "ttft_ms", func(s *series) []float64 { return s.ttft }, true},
	{results.MetricLatency, "latency_ms", func(s *series) []float64 { return s.latency }, true},
	{results.MetricITL, "itl_ms", func(s *series) []float64 { return s.itl }, false},
}

// requestMetric is a per-request metric: its id, its name in the random
// streams, its samples in a series, and whether failures censor it.
type requestMetric struct {
	id       string
	stream   string
	get      func(*series) []float64
	censored bool
}

// runMetrics are computed once per run and compared over runs: rates per
// second of the span from the group's first request start to its last
// response.
// The SLO metrics are listed only for groups whose runs had an SLO.
var runMetrics = []struct {
	id   string
	unit string
	get  func(*series) (float64, bool)
	slo  bool
}{
	{results.MetricThroughput, results.UnitPerSecond, func(s *series) (float64, bool) {
		w := s.seconds()
		return float64(s.requests-s.failures) / w, w > 0
	}, false},
	{results.MetricOutputTokensRate, results.UnitPerSecond, func(s *series) (float64, bool) {
		w := s.seconds()
		return float64(s.outputTokens) / w, w > 0 && s.outputTokens > 0
	}, false},
	{results.MetricGoodput, results.UnitPerSecond, func(s *series) (float64, bool) {
		w := s.seconds()
		return float64(s.good) / w, w > 0 && s.slo.IsSet()
	}, true},
	{results.MetricSLOAttainment, results.UnitFraction, func(s *series) (float64, bool) {
		return float64(s.good) / float64(s.requests), s.requests > 0 && s.slo.IsSet()
	}, true},
}

// seconds is the series' window.
func (s *series) seconds() float64 { return float64(s.lastEndNs-s.firstStartNs) / nsPerSecond }

// nsPerSecond turns nanoseconds into seconds where analysis computes a
// rate: rates are per second (results.UnitPerSecond, UnitBytesPerSecond).
const nsPerSecond = 1e9

// runsOf returns a metric's per-run samples of a group.
func (g *group) runsOf(get func(*series) []float64) [][]float64 {
	out := make([][]float64, 0, len(g.runs))
	for _, r := range g.runs {
		if v := get(r); len(v) > 0 {
			out = append(out, v)
		}
	}
	return out
}

// perRun returns a run-level metric's value of every run that has one.
func (g *group) perRun(get func(*series) (float64, bool)) []float64 {
	var out []float64
	for _, r := range g.runs {
		if v, ok := get(r); ok {
			out = append(out, v)
		}
	}
	return out
}

// failures counts the failed requests a metric treats as censored.
func (g *group) failures(censored bool) int {
	if !censored {
		return 0
	}
	_, f := g.requests()
	return f
}

// addRequests puts a run's requests into per-group series and its
// timeline.
func (a *Analyzer) addRequests(r *ingest.Run) {
	m := r.Manifest
	sweep := sweepLabel(m)
	tl := newTimeline(m)
	repeated := repeatedPhases(m)
	mine := map[groupKey]*series{}
	for i := range r.Requests {
		q := &r.Requests[i]
		if !a.keepPhase(q.Phase) {
			continue
		}
		if q.ErrorKind == "" && q.HasTTFT {
			tl.add(q.StartUnixNs-m.StartedUnixNs, q.TTFTNs)
		}
		if results.PhaseRole(q.Phase) == results.RoleWarmup {
			continue
		}
		k := groupKey{q.Scenario, q.Phase, q.TierMode, int(q.Concurrency), sweep, 0, results.TraceSplit(q.Scenario, q.TraceSeenBlocks)}
		if repeated[q.Phase] {
			k.pass = int(q.RepeatIndex) + 1
		}
		s := mine[k]
		if s == nil {
			s = &series{runID: m.RunID, slo: a.sloFor(m)}
			mine[k] = s
			g := a.groups[k]
			if g == nil {
				g = &group{key: k}
				a.groups[k] = g
			}
			g.runs = append(g.runs, s)
		}
		s.add(q)
	}
	a.timelines = append(a.timelines, tl.Timeline)
}

// repeatedPhases returns the phase names that occur more than once in a
// run's manifest: their passes are grouped apart.
func repeatedPhases(m *results.Manifest) map[string]bool {
	seen := map[string]int{}
	for _, ph := range m.Phases {
		seen[ph.Name]++
	}
	out := map[string]bool{}
	for name, n := range seen {
		if n > 1 {
			out[name] = true
		}
	}
	return out
}

// sweepLabel is a run's campaign sweep point in canonical form.
func sweepLabel(m *results.Manifest) string {
	if m.Campaign == nil || len(m.Campaign.SweepPoint) == 0 {
		return ""
	}
	keys := slices.Sorted(maps.Keys(m.Campaign.SweepPoint))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m.Campaign.SweepPoint[k]
	}
	return strings.Join(parts, ",")
}

// sortedGroups returns the groups in report order, runs sorted by id.
func (a *Analyzer) sortedGroups() []*group {
	out := make([]*group, 0, len(a.groups))
	for _, g := range a.groups {
		sort.Slice(g.runs, func(i, j int) bool { return g.runs[i].runID < g.runs[j].runID })
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key.less(out[j].key) })
	return out
}

// groupSummary estimates a group's metrics, reusing the estimates the
// comparisons made.
func (a *Analyzer) groupSummary(g *group, est map[armKey][]stats.Estimate) Group {
	n, fails := g.requests()
	k := g.key
	out := Group{Scenario: k.scenario, Phase: k.phase, Pass: k.pass, Arm: k.arm, Concurrency: k.concurrency, Sweep: k.sweep, Split: k.split,
		NRuns: len(g.runs), NRequests: n, NErrors: fails}
	for _, mt := range metrics {
		runs := g.runsOf(mt.get)
		if len(runs) == 0 {
			continue
		}
		ests, ok := est[armKey{k, mt.id}]
		if !ok {
			o := a.so
			o.Stream = streamOf(k, mt.stream)
			ests = stats.EstimateQuantiles(runs, a.opt.Quantiles, g.failures(mt.censored), o)
		}
		rm := Metric{Name: mt.id, Unit: results.UnitNanoseconds, N: count(runs)}
		for _, e := range ests {
			rm.Quantiles = append(rm.Quantiles, quantileOf(e))
		}
		out.Metrics = append(out.Metrics, rm)
	}
	for _, rm := range runMetrics {
		per := g.perRun(rm.get)
		if rm.slo && len(per) == 0 {
			continue
		}
		e := stats.RunMean(per, a.so)
		m := RunMetric{Name: rm.id, Unit: rm.unit, Mean: e.Value, PerRun: e.PerRun, Method: e.Method, Flags: slices.Clone(e.Flags)}
		if e.Method != stats.MethodNone {
			m.Lo, m.Hi = ptr(e.Lo), ptr(e.Hi)
		}
		out.RunMetrics = append(out.RunMetrics, m)
	}
	return out
}

// distribution returns the group's TTFTs, pooled over runs and sorted.
func (g *group) distribution() (Distribution, bool) {
	pooled := slices.Concat(g.runsOf(func(s *series) []float64 { return s.ttft })...)
	if len(pooled) == 0 {
		return Distribution{}, false
	}
	sort.Float64s(pooled)
	k := g.key
	return Distribution{Scenario: k.scenario, Phase: k.phase, Pass: k.pass, Arm: k.arm, Metric: results.MetricTTFT, Sorted: pooled}, true
}

// mergeDistributions pools distributions that share scenario, phase, arm
// and metric (different concurrencies), so the CDF plot has one line per
// arm.
func mergeDistributions(ds []Distribution) []Distribution {
	type key struct {
		sc, ph, arm, m string
		pass           int
	}
	idx := map[key]int{}
	var out []Distribution
	for _, d := range ds {
		k := key{d.Scenario, d.Phase, d.Arm, d.Metric, d.Pass}
		if i, ok := idx[k]; ok {
			out[i].Sorted = append(out[i].Sorted, d.Sorted...)
			sort.Float64s(out[i].Sorted)
			continue
		}
		idx[k] = len(out)
		out = append(out, d)
	}
	return out
}

func count(runs [][]float64) int {
	n := 0
	for _, r := range runs {
		n += len(r)
	}
	return n
}

func quantileOf(e stats.Estimate) Quantile {
	q := Quantile{P: e.P, Value: e.Value, Method: e.Method, Scope: e.Scope, Flags: slices.Clone(e.Flags)}
	if e.Method != stats.MethodNone {
		q.Lo, q.Hi = ptr(e.Lo), ptr(e.Hi)
	}
	return q
}

func ptr(v float64) *float64 { return &v }
