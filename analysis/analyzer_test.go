package analysis

import (
	"testing"

	"kvbench/ingest"
	"kvbench/results"
)

// requestsRun returns a run of a standard scenario: a warmup request, one
// measured request per TTFT (ms) and a failure.
func requestsRun(id, tier string, ttftsMs []int64) *ingest.Run {
	_, kv, _ := results.ResolveModes(tier, "")
	m := &results.Manifest{RunID: id, Scenario: "standard", TierMode: tier, KVMode: kv, Valid: true,
		Tables: map[string]results.TableInfo{results.TableRequests: {Rows: int64(len(ttftsMs) + 2)}}}
	rq := func(phase string, ttftMs int64) ingest.Request {
		return ingest.Request{Scenario: "standard", TierMode: tier, Phase: phase, Concurrency: 2, TTFTNs: ttftMs * 1e6, HasTTFT: true,
			LatencyNs: ttftMs*1e6 + 5e6, Chunks: 2, FirstChunkNs: ttftMs * 1e6, LastChunkNs: ttftMs*1e6 + 2e6}
	}
	r := &ingest.Run{Bundle: ingest.Bundle{Manifest: m}}
	r.Requests = append(r.Requests, rq(results.PhaseWarmup, 999))
	for i, v := range ttftsMs {
		q := rq(results.PhaseMeasure, v)
		q.StartUnixNs = int64(i+1) * 1e6
		r.Requests = append(r.Requests, q)
	}
	r.Requests = append(r.Requests, ingest.Request{Scenario: "standard", TierMode: tier, Phase: results.PhaseMeasure, Concurrency: 2,
		ErrorKind: results.ErrHTTP, LatencyNs: 1e6})
	return r
}

func TestGroups(t *testing.T) {
	a := New(Options{Baseline: "B1", Candidate: "B2"})
	a.Add(requestsRun("b2", "B2", []int64{5, 6}))
	a.Add(requestsRun("b1", "B1", []int64{10, 20, 30}))
	groups := a.sortedGroups()
	if len(groups) != 2 {
		t.Fatalf("groups = %d; want 2 (warmup excluded)", len(groups))
	}
	g := groups[0]
	if g.key != (groupKey{"standard", results.PhaseMeasure, "B1", 2, "", 0, ""}) {
		t.Errorf("first group key %+v", g.key)
	}
	n, fails := g.requests()
	s := g.runs[0]
	if n != 4 || fails != 1 || len(s.ttft) != 3 || s.ttft[2] != 30e6 || len(s.itl) != 3 || s.itl[0] != 2e6 /* one mean gap per request */ {
		t.Errorf("B1 group: n=%d fails=%d series=%+v", n, fails, s)
	}
	sum := a.Summary()
	if len(sum.Runs) != 2 || sum.Runs[0].RunID != "b2" || sum.Groups[0].Metrics[0].Name != results.MetricTTFT ||
		sum.Groups[0].Metrics[0].Unit != results.UnitNanoseconds || len(sum.Timelines) != 2 {
		t.Errorf("summary runs %+v, groups %+v", sum.Runs, sum.Groups)
	}

	// A phase filter keeps only those phases, warmup never.
	a = New(Options{Phases: []string{results.PhaseWarmup}})
	a.Add(requestsRun("b1", "B1", []int64{10}))
	if len(a.groups) != 0 || len(a.timelines[0].TTFTNs) != 1 {
		t.Errorf("warmup-only filter: %d groups, timeline %v", len(a.groups), a.timelines[0].TTFTNs)
	}
}

func TestConfigDiffs(t *testing.T) {
	mk := func(id, tier string, cfg map[string]string) *results.Manifest {
		return &results.Manifest{RunID: id, TierMode: tier, Config: cfg}
	}
	got := configDiffs([]*results.Manifest{
		mk("a", "B1", map[string]string{"requests": "64", "concurrency": "1", "run-id": "a"}),
		mk("b", "B1", map[string]string{"requests": "64", "concurrency": "2", "run-id": "b"}),
		mk("c", "B2", map[string]string{"requests": "32", "concurrency": "1", "run-id": "c"}),
		mk("d", "B2", map[string]string{"requests": "32", "concurrency": "2", "run-id": "d"}),
	})
	if len(got) != 2 {
		t.Fatalf("diffs %+v; want concurrency and requests", got)
	}
	if got[0].Key != "concurrency" || got[0].BetweenArms {
		t.Errorf("concurrency differs only within arms: %+v", got[0])
	}
	if got[1].Key != "requests" || !got[1].BetweenArms || got[1].Values[1].Values[0] != "32" {
		t.Errorf("requests differs between arms: %+v", got[1])
	}
}

func TestTimelineThinning(t *testing.T) {
	tl := newTimeline(&results.Manifest{})
	n := 3*MaxTimelinePoints + 7
	for i := 0; i < n; i++ {
		tl.add(int64(i), int64(i))
	}
	if len(tl.OffsetNs) >= MaxTimelinePoints || len(tl.OffsetNs) < MaxTimelinePoints/4 || len(tl.TTFTNs) != len(tl.OffsetNs) {
		t.Fatalf("kept %d points of %d", len(tl.OffsetNs), n)
	}
	for i := 1; i < len(tl.OffsetNs); i++ {
		if d := tl.OffsetNs[i] - tl.OffsetNs[i-1]; d != int64(tl.stride) || tl.TTFTNs[i] != tl.OffsetNs[i] {
			t.Fatalf("points not evenly thinned at %d: gap %v, stride %d", i, d, tl.stride)
		}
	}
}

// TestReusePasses: reuse_verify repeats the phase "reuse"; each pass is a
// group of its own (and a comparison of its own), not one pooled row.
func TestReusePasses(t *testing.T) {
	a := New(Options{Baseline: "B1", Candidate: "B2", Resamples: 50})
	for _, tier := range []string{"B1", "B2"} {
		m := &results.Manifest{RunID: "r" + tier, Scenario: "reuse_verify", TierMode: tier, Valid: true,
			Phases: []results.Phase{{Name: results.PhaseReuse}, {Name: results.PhaseReuse, RepeatIndex: 1}}}
		r := &ingest.Run{Bundle: ingest.Bundle{Manifest: m}}
		for pass := int32(0); pass < 2; pass++ {
			for i := int64(0); i < 30; i++ {
				r.Requests = append(r.Requests, ingest.Request{Scenario: "reuse_verify", TierMode: tier, Phase: results.PhaseReuse,
					RepeatIndex: pass, Concurrency: 1, TTFTNs: (10 + i) * 1e6, HasTTFT: true, LatencyNs: 50e6})
			}
		}
		a.Add(r)
	}
	s := a.Summary()
	var passes []int
	for _, g := range s.Groups {
		passes = append(passes, g.Pass)
	}
	if len(passes) != 4 || passes[0] != 1 || passes[1] != 1 || passes[2] != 2 || passes[3] != 2 {
		t.Errorf("group passes %v; want [1 1 2 2] (B1, B2 of each pass)", passes)
	}
	seen := map[int]bool{}
	for _, c := range s.Comparisons {
		seen[c.Pass] = true
	}
	if !seen[1] || !seen[2] || seen[0] {
		t.Errorf("comparison passes %v; want 1 and 2", seen)
	}
}

// TestHeader: the target is the model and the base URL's host (ports
// differ per arm), the simulator is recognised by its model name, and
// the shared settings leave out per-run keys and settings that differ.
func TestHeader(t *testing.T) {
	mk := func(id, tier, url string, start int64, cfg map[string]string) *results.Manifest {
		return &results.Manifest{RunID: id, TierMode: tier, Model: SimulatorModel, BaseURL: url, StartedUnixNs: start, ToolVersion: "1.0",
			Scenario: "rehydrate_replay", Host: results.Host{Hostname: "spark", Arch: "arm64"}, Config: cfg,
			Phases: []results.Phase{{Name: results.PhaseReplay, Concurrency: 1}, {Name: results.PhasePopulate, Concurrency: 2}}}
	}
	h := header([]*results.Manifest{
		mk("a", "B1", "http://127.0.0.1:4000", 20, map[string]string{"max-tokens": "8", "run-id": "a", "request-seed": "1"}),
		mk("b", "B2", "http://127.0.0.1:5000", 10, map[string]string{"max-tokens": "8", "run-id": "b", "request-seed": "2"}),
	})
	if len(h.Targets) != 1 || !h.Targets[0].Simulator || h.Targets[0].Host != "127.0.0.1" || len(h.Targets[0].Arms) != 2 {
		t.Errorf("targets %+v", h.Targets)
	}
	if h.FirstStartNs != 10 || h.LastStartNs != 20 || len(h.Hosts) != 1 || len(h.ToolVersions) != 1 {
		t.Errorf("header %+v", h)
	}
	if len(h.Shared) != 1 || h.Shared[0] != (Setting{"max-tokens", "8"}) {
		t.Errorf("shared %+v; want max-tokens only", h.Shared)
	}
	if len(h.PhaseConcurrency) != 2 || h.PhaseConcurrency[0] != (Setting{results.PhasePopulate, "2"}) {
		t.Errorf("phase concurrency %+v; want populate first", h.PhaseConcurrency)
	}
}
