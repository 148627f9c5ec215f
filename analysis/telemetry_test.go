package analysis

import (
	"testing"

	"kvbench/ingest"
	"kvbench/results"
)

// run returns a run with the given manifest and telemetry rows, as ingest
// reads them.
func run(m *results.Manifest, metrics []results.MetricSample, io []results.IOSample) *ingest.Run {
	return &ingest.Run{Bundle: ingest.Bundle{Manifest: m}, Metrics: metrics, IO: io}
}

// TestTelemetryRepeatedPhases: reuse_verify repeats the phase name "reuse";
// samples are attributed to repeats by time, with counter resets handled.
func TestTelemetryRepeatedPhases(t *testing.T) {
	var phases []results.Phase
	for i := 0; i < 3; i++ {
		phases = append(phases, results.Phase{Name: "reuse", RepeatIndex: i, StartUnixNs: int64(i+1) * 100, EndUnixNs: int64(i+1)*100 + 50})
	}
	// matched tokens: 0 → 100 (repeat 0); 100 → 400 (repeat 1, with an
	// interval sample); 450 (the 50 that landed between repeats counts in
	// repeat 2), then the server restarts (5), then 60: repeat 2 = 50 + 5 +
	// 55.
	samples := []struct {
		t int64
		v float64
	}{{101, 0}, {151, 100}, {201, 100}, {230, 250}, {251, 400}, {301, 450}, {320, 5}, {351, 60}}
	var ms []results.MetricSample
	var io []results.IOSample
	for _, s := range samples {
		ms = append(ms, results.MetricSample{RunID: "r", Source: "kvbm", ScrapeUnixNs: s.t, Phase: "reuse", Point: "x", Name: "kvbm_matched_tokens", Labels: "{}", Type: "counter", Value: s.v})
		io = append(io, results.IOSample{RunID: "r", SampleUnixNs: s.t, Phase: "reuse", Scope: results.IOScopeDevice, Target: "nvme0n1", ReadBytes: int64(s.v) << 20})
	}
	m := &results.Manifest{RunID: "r", TierMode: "B2", KVMode: "cpu_disk", StartedUnixNs: 90, Phases: phases}
	rt := ReduceTelemetry(run(m, ms, io))
	want := []float64{100, 300, 110}
	for i, p := range rt.Phases {
		if p.Repeat != i || p.KVBM[results.KVBMMatched] != want[i] {
			t.Errorf("repeat %d: matched %v; want %v", p.Repeat, p.KVBM[results.KVBMMatched], want[i])
		}
		if !p.HaveDevice || p.DeviceReadBytes != want[i]*(1<<20) {
			t.Errorf("repeat %d: device read %v", i, p.DeviceReadBytes)
		}
	}
	if !rt.HaveKVBM || len(rt.Counters[results.KVBMMatched]) != len(samples) {
		t.Errorf("series: have %v, %d points", rt.HaveKVBM, len(rt.Counters[results.KVBMMatched]))
	}
}

func TestJudgeRehydrate(t *testing.T) {
	ph := func(name string, kv map[string]float64, devRead float64) PhaseIO {
		return PhaseIO{Phase: name, Deltas: Deltas{DurationNs: 10e9, KVBM: kv, DeviceReadBytes: devRead, HaveDevice: devRead >= 0}}
	}
	cases := []struct {
		name, kv string
		phases   []PhaseIO
		have     bool
		verdict  string
		flags    []string
	}{
		{"observed", "cpu_disk", []PhaseIO{ph("populate", map[string]float64{"offload_h2d": 100}, 0),
			ph("replay", map[string]float64{"onboard_d2d": 90, "matched_tokens": 2880}, 400<<20)}, true, results.RehydrateObserved, nil},
		{"page cache", "cpu_disk", []PhaseIO{ph("populate", map[string]float64{"offload_h2d": 100}, 0),
			ph("replay", map[string]float64{"onboard_d2d": 90, "matched_tokens": 2880}, 1<<20)}, true, results.RehydrateObserved, []string{FlagPageCacheMasking}},
		{"gated", "cpu_disk", []PhaseIO{ph("populate", map[string]float64{"offload_d2h": 100}, 0),
			ph("replay", map[string]float64{"offload_d2h": 100}, 0)}, true, results.RehydrateGated, []string{FlagDiskTierInactive, FlagNoRehydrate}},
		{"host only", "cpu_only", []PhaseIO{ph("replay", map[string]float64{"onboard_h2d": 50, "matched_tokens": 1600}, 0)}, true, results.RehydrateNotObserved, nil},
		{"contaminated control", "cpu_only", []PhaseIO{ph("replay", map[string]float64{"onboard_h2d": 50, "matched_tokens": 1600}, 900<<20)}, true, results.RehydrateNotObserved, []string{FlagControlContaminated}},
		{"no counters", "cpu_disk", []PhaseIO{ph("replay", map[string]float64{}, 0)}, false, results.RehydrateNoEvidence, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := JudgeRehydrate(&RunTelemetry{KVMode: c.kv, Phases: c.phases, HaveKVBM: c.have}, RehydrateOptions{})
			if got.Verdict != c.verdict {
				t.Errorf("verdict %s; want %s (%+v)", got.Verdict, c.verdict, got)
			}
			if len(got.Flags) != len(c.flags) {
				t.Fatalf("flags %v; want %v", got.Flags, c.flags)
			}
			for i := range c.flags {
				if got.Flags[i] != c.flags[i] {
					t.Errorf("flags %v; want %v", got.Flags, c.flags)
				}
			}
		})
	}
}

func TestAttribute(t *testing.T) {
	const s = int64(1e9) // run start
	req := func(startMs, latMs int64) ingest.Request {
		return ingest.Request{Phase: "replay", StartUnixNs: s + startMs*1e6, LatencyNs: latMs * 1e6, TTFTNs: latMs * 5e5, HasTTFT: true}
	}
	// Scrapes every 100 ms. Requests: [110,180] disk, [310,380] host,
	// [510,580] nothing, [710,760] and [740,790] overlap.
	reqs := []ingest.Request{req(110, 70), req(310, 70), req(510, 70), req(710, 50), req(740, 50)}
	var ms []results.MetricSample
	d2d, h2d := 0.0, 0.0
	for t := int64(0); t <= 900; t += 100 {
		switch t {
		case 200:
			d2d += 40
		case 400:
			h2d += 10
		case 800:
			d2d += 5
		}
		for name, v := range map[string]float64{"kvbm_onboard_blocks_d2d": d2d, "kvbm_onboard_blocks_h2d": h2d} {
			ms = append(ms, results.MetricSample{Source: "kvbm", ScrapeUnixNs: s + t*1e6, Phase: "replay", Point: "interval", Name: name, Labels: "{}", Type: "counter", Value: v})
		}
	}
	m := &results.Manifest{RunID: "a", TierMode: "B2", KVMode: "cpu_disk", StartedUnixNs: s,
		Phases: []results.Phase{{Name: "replay", StartUnixNs: s, EndUnixNs: s + 9e8}}}
	r := run(m, ms, nil)
	r.Requests = reqs
	attrs := Attribute(r, ReduceTelemetry(r))
	if len(attrs) != 1 {
		t.Fatalf("Attribute = %v", attrs)
	}
	want := map[string]int{TierDisk: 1, TierHost: 1, TierNone: 1, TierAmbiguous: 2}
	for label, n := range want {
		if attrs[0].Counts[label] != n {
			t.Errorf("%s: %d requests; want %d (all %v)", label, attrs[0].Counts[label], n, attrs[0].Counts)
		}
	}
	if attrs[0].TTFT[TierDisk][0] != 35e6 {
		t.Errorf("disk TTFT %v", attrs[0].TTFT[TierDisk])
	}
}

func TestTelemetryOneSourcePerRole(t *testing.T) {
	var ms []results.MetricSample
	for _, src := range []string{"alias", "kvbm"} {
		for i, v := range []float64{10, 70} {
			ms = append(ms, results.MetricSample{Source: src, ScrapeUnixNs: 101 + int64(i)*40, Name: "kvbm_onboard_blocks_d2d", Labels: "{}", Type: "counter", Value: v})
		}
	}
	m := &results.Manifest{RunID: "d", StartedUnixNs: 100, Phases: []results.Phase{{Name: "replay", StartUnixNs: 100, EndUnixNs: 150}}}
	rt := ReduceTelemetry(run(m, ms, nil))
	if got := rt.Phases[0].KVBM[results.KVBMOnboardD2D]; got != 60 {
		t.Errorf("onboard_d2d delta %v; want 60 (one source, not both)", got)
	}
	if c := rt.Counters[results.KVBMOnboardD2D]; len(c) != 2 || c[1].V != 70 {
		t.Errorf("series %v", c)
	}
}

// TestTelemetryGenerationOnSystemPort: KVBM's first metric generation sits
// on the worker's system port as dynamo_component_* with
// dynamo_namespace="kvbm_connector_leader" (and a _total suffix from some
// clients); it reads into the same roles as the kvbm_* names.
func TestTelemetryGenerationOnSystemPort(t *testing.T) {
	var ms []results.MetricSample
	for i, v := range []float64{5, 45} {
		ms = append(ms,
			results.MetricSample{Source: "system", ScrapeUnixNs: 101 + int64(i)*40, Name: "dynamo_component_onboard_blocks_d2d",
				Labels: `{dynamo_namespace="kvbm_connector_leader"}`, Type: "counter", Value: v},
			results.MetricSample{Source: "system", ScrapeUnixNs: 101 + int64(i)*40, Name: "dynamo_component_matched_tokens_total",
				Labels: `{dynamo_namespace="kvbm_connector_leader"}`, Type: "counter", Value: 32 * v})
	}
	m := &results.Manifest{RunID: "a", StartedUnixNs: 100, Phases: []results.Phase{{Name: "replay", StartUnixNs: 100, EndUnixNs: 150}}}
	rt := ReduceTelemetry(run(m, ms, nil))
	if !rt.HaveKVBM || rt.Phases[0].KVBM[results.KVBMOnboardD2D] != 40 || rt.Phases[0].KVBM[results.KVBMMatched] != 1280 {
		t.Errorf("have %v, deltas %v; want onboard_d2d 40 and matched_tokens 1280", rt.HaveKVBM, rt.Phases[0].KVBM)
	}
}
