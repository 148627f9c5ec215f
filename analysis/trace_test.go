package analysis

import (
	"testing"

	"kvbench/ingest"
	"kvbench/results"
)

// traceRun is a trace run: half its measured requests have a prefix seen
// earlier in the trace (fast in B2), half are new.
func traceRun(id, tier string, seenMs, newMs int64) *ingest.Run {
	m := &results.Manifest{RunID: id, Scenario: results.ScenarioTrace, TierMode: tier, Valid: true}
	r := &ingest.Run{Bundle: ingest.Bundle{Manifest: m}}
	for i := int64(0); i < 40; i++ {
		q := ingest.Request{Scenario: results.ScenarioTrace, TierMode: tier, Phase: results.PhaseMeasure, Concurrency: 4,
			HasTTFT: true, TTFTNs: (newMs + i%5) * 1e6, LatencyNs: 50e6, StartUnixNs: i * 1e6}
		if i%2 == 0 {
			q.TraceSeenBlocks, q.TTFTNs = 3, (seenMs+i%5)*1e6
		}
		r.Requests = append(r.Requests, q)
	}
	r.Requests = append(r.Requests, ingest.Request{Scenario: results.ScenarioTrace, TierMode: tier, Phase: results.PhaseWarmup,
		HasTTFT: true, TTFTNs: 1e9, LatencyNs: 1e9, TraceSeenBlocks: 2})
	return r
}

// TestTraceSplit: a trace run's measure phase comes as two groups per
// arm and two comparison cells, prefix seen and new; other scenarios have
// no split.
func TestTraceSplit(t *testing.T) {
	a := New(Options{Baseline: "B1", Candidate: "B2", Resamples: 200})
	// Two runs per arm: a verdict needs two (one run per arm is
	// insufficient_data).
	a.Add(traceRun("b1", "B1", 100, 100))
	a.Add(traceRun("b1b", "B1", 102, 101))
	a.Add(traceRun("b2", "B2", 20, 100))
	a.Add(traceRun("b2b", "B2", 21, 99))
	a.Add(requestsRun("s1", "B1", []int64{10, 20, 30}))
	s := a.Summary()
	splits := map[string]int{}
	for _, g := range s.Groups {
		if g.Scenario == results.ScenarioTrace {
			splits[g.Split]++
			if g.NRequests != 40 {
				t.Errorf("group %s/%s/%s: %d requests; want 40 (20 in each of two runs)", g.Phase, g.Arm, g.Split, g.NRequests)
			}
		} else if g.Split != "" {
			t.Errorf("standard group with split %q", g.Split)
		}
	}
	if splits[results.SplitPrefixSeen] != 2 || splits[results.SplitNew] != 2 || len(splits) != 2 {
		t.Errorf("trace groups by split %v; want two arms each of %q and %q", splits, results.SplitPrefixSeen, results.SplitNew)
	}
	verdict := map[string]string{}
	for _, c := range s.Comparisons {
		if c.Metric == results.MetricTTFT && c.P == 0.5 {
			verdict[c.Split] = c.Verdict
		}
	}
	if verdict[results.SplitPrefixSeen] != results.VerdictBetter {
		t.Errorf("prefix seen p50 verdict %q; want %s (all %v)", verdict[results.SplitPrefixSeen], results.VerdictBetter, verdict)
	}
	if v := verdict[results.SplitNew]; v == results.VerdictBetter || v == "" {
		t.Errorf("new p50 verdict %q; want no advantage", v)
	}
}
