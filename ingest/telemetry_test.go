package ingest

import (
	"os"
	"path/filepath"
	"testing"

	"kvbench/results"
)

// TestTelemetryRepeatedPhases: reuse_verify repeats the phase name "reuse";
// samples are attributed to repeats by time, with counter resets handled.
func TestTelemetryRepeatedPhases(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "r")
	os.MkdirAll(dir, 0o755)
	var phases []results.Phase
	for i := 0; i < 3; i++ {
		phases = append(phases, results.Phase{Name: "reuse", RepeatIndex: i, StartUnixNs: int64(i+1) * 100, EndUnixNs: int64(i+1)*100 + 50})
	}
	mw, _ := results.NewTableWriter[results.MetricSample](dir, results.TableMetrics, 0)
	iw, _ := results.NewTableWriter[results.IOSample](dir, results.TableIO, 0)
	// matched tokens: 0 → 100 (repeat 0); 100 → 400 (repeat 1, with an
	// interval sample); 450 (the 50 that landed between repeats counts in
	// repeat 2), then the server restarts (5), then 60: repeat 2 = 50 + 5 +
	// 55.
	samples := []struct {
		t int64
		v float64
	}{{101, 0}, {151, 100}, {201, 100}, {230, 250}, {251, 400}, {301, 450}, {320, 5}, {351, 60}}
	for _, s := range samples {
		mw.Write(results.MetricSample{RunID: "r", Source: "kvbm", ScrapeUnixNs: s.t, Phase: "reuse", Point: "x", Name: "kvbm_matched_tokens", Labels: "{}", Type: "counter", Value: s.v})
		iw.Write(results.IOSample{RunID: "r", SampleUnixNs: s.t, Phase: "reuse", Scope: results.IOScopeDevice, Target: "nvme0n1", ReadBytes: int64(s.v) << 20})
	}
	mw.Write(results.MetricSample{RunID: "r", Source: "kvbm", ScrapeUnixNs: 160, ScrapeError: "connection refused"})
	mw.Close()
	iw.Close()
	m := &results.Manifest{RunID: "r", TierMode: "B2", KVMode: "cpu_disk", StartedUnixNs: 90, Phases: phases,
		Tables: map[string]results.TableInfo{results.TableMetrics: mw.Info(), results.TableIO: iw.Info()}}
	rt, err := LoadTelemetry(Bundle{Dir: dir, Manifest: m})
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{100, 300, 110}
	for i, p := range rt.Phases {
		if p.Repeat != i || p.KVBM["matched_tokens"] != want[i] {
			t.Errorf("repeat %d: matched %v; want %v", p.Repeat, p.KVBM["matched_tokens"], want[i])
		}
		if !p.HaveDevice || p.DeviceReadBytes != want[i]*(1<<20) {
			t.Errorf("repeat %d: device read %v", i, p.DeviceReadBytes)
		}
	}
	if !rt.HaveKVBM || len(rt.Counters["matched_tokens"]) != len(samples) {
		t.Errorf("series: have %v, %d points", rt.HaveKVBM, len(rt.Counters["matched_tokens"]))
	}
}

func TestJudgeRehydrate(t *testing.T) {
	ph := func(name string, kv map[string]float64, devRead float64) PhaseTelemetry {
		return PhaseTelemetry{Phase: name, Seconds: 10, KVBM: kv, DeviceReadBytes: devRead, HaveDevice: devRead >= 0}
	}
	cases := []struct {
		name, kv string
		phases   []PhaseTelemetry
		have     bool
		verdict  string
		flags    []string
	}{
		{"observed", "cpu_disk", []PhaseTelemetry{ph("populate", map[string]float64{"offload_h2d": 100}, 0),
			ph("replay", map[string]float64{"onboard_d2d": 90, "matched_tokens": 2880}, 400<<20)}, true, RehydrateObserved, nil},
		{"page cache", "cpu_disk", []PhaseTelemetry{ph("populate", map[string]float64{"offload_h2d": 100}, 0),
			ph("replay", map[string]float64{"onboard_d2d": 90, "matched_tokens": 2880}, 1<<20)}, true, RehydrateObserved, []string{"PAGE_CACHE_MASKING"}},
		{"gated", "cpu_disk", []PhaseTelemetry{ph("populate", map[string]float64{"offload_d2h": 100}, 0),
			ph("replay", map[string]float64{"offload_d2h": 100}, 0)}, true, RehydrateGated, []string{"DISK_TIER_INACTIVE", "NO_REHYDRATE"}},
		{"host only", "cpu_only", []PhaseTelemetry{ph("replay", map[string]float64{"onboard_h2d": 50, "matched_tokens": 1600}, 0)}, true, RehydrateNotObserved, nil},
		{"contaminated control", "cpu_only", []PhaseTelemetry{ph("replay", map[string]float64{"onboard_h2d": 50, "matched_tokens": 1600}, 900<<20)}, true, RehydrateNotObserved, []string{"CONTROL_CONTAMINATED"}},
		{"no counters", "cpu_disk", []PhaseTelemetry{ph("replay", map[string]float64{}, 0)}, false, RehydrateNoEvidence, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := JudgeRehydrate(&RunTelemetry{KVMode: c.kv, Phases: c.phases, HaveKVBM: c.have}, RehydrateOptions{})
			if got.Verdict != c.verdict {
				t.Errorf("verdict %s; want %s (evidence %v)", got.Verdict, c.verdict, got.Evidence)
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
	dir := filepath.Join(t.TempDir(), "a")
	os.MkdirAll(dir, 0o755)
	const s = int64(1e9) // run start
	rw, _ := results.NewTableWriter[results.Request](dir, results.TableRequests, 0)
	req := func(startMs, latMs int64) results.Request {
		return results.Request{Phase: "replay", StartUnixNs: s + startMs*1e6, LatencyNs: latMs * 1e6, TTFTNs: results.Ptr(latMs * 5e5)}
	}
	// Scrapes every 100 ms. Requests: [110,180] disk, [310,380] host,
	// [510,580] nothing, [710,760] and [740,790] overlap.
	rw.Write(req(110, 70), req(310, 70), req(510, 70), req(710, 50), req(740, 50))
	rw.Close()
	mw, _ := results.NewTableWriter[results.MetricSample](dir, results.TableMetrics, 0)
	d2d, h2d := 0.0, 0.0
	for ms := int64(0); ms <= 900; ms += 100 {
		switch ms {
		case 200:
			d2d += 40
		case 400:
			h2d += 10
		case 800:
			d2d += 5
		}
		for name, v := range map[string]float64{"kvbm_onboard_blocks_d2d": d2d, "kvbm_onboard_blocks_h2d": h2d} {
			mw.Write(results.MetricSample{Source: "kvbm", ScrapeUnixNs: s + ms*1e6, Phase: "replay", Point: "interval", Name: name, Labels: "{}", Type: "counter", Value: v})
		}
	}
	mw.Close()
	m := &results.Manifest{RunID: "a", TierMode: "B2", KVMode: "cpu_disk", StartedUnixNs: s,
		Phases: []results.Phase{{Name: "replay", StartUnixNs: s, EndUnixNs: s + 9e8}},
		Tables: map[string]results.TableInfo{results.TableRequests: rw.Info(), results.TableMetrics: mw.Info()}}
	b := Bundle{Dir: dir, Manifest: m}
	rt, err := LoadTelemetry(b)
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := Attribute(b, rt)
	if err != nil || len(attrs) != 1 {
		t.Fatalf("Attribute = %v, %v", attrs, err)
	}
	want := map[string]int{TierDisk: 1, TierHost: 1, TierNone: 1, TierAmbiguous: 2}
	for label, n := range want {
		if attrs[0].Counts[label] != n {
			t.Errorf("%s: %d requests; want %d (all %v)", label, attrs[0].Counts[label], n, attrs[0].Counts)
		}
	}
	if attrs[0].TTFT[TierDisk][0] != 35 {
		t.Errorf("disk TTFT %v", attrs[0].TTFT[TierDisk])
	}
}

func TestTelemetryOneSourcePerRole(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d")
	os.MkdirAll(dir, 0o755)
	mw, _ := results.NewTableWriter[results.MetricSample](dir, results.TableMetrics, 0)
	for _, src := range []string{"alias", "kvbm"} {
		for i, v := range []float64{10, 70} {
			mw.Write(results.MetricSample{Source: src, ScrapeUnixNs: 101 + int64(i)*40, Name: "kvbm_onboard_blocks_d2d", Labels: "{}", Type: "counter", Value: v})
		}
	}
	mw.Close()
	m := &results.Manifest{RunID: "d", StartedUnixNs: 100, Phases: []results.Phase{{Name: "replay", StartUnixNs: 100, EndUnixNs: 150}},
		Tables: map[string]results.TableInfo{results.TableMetrics: mw.Info()}}
	rt, err := LoadTelemetry(Bundle{Dir: dir, Manifest: m})
	if err != nil {
		t.Fatal(err)
	}
	if got := rt.Phases[0].KVBM["onboard_d2d"]; got != 60 {
		t.Errorf("onboard_d2d delta %v; want 60 (one source, not both)", got)
	}
	if n := len(rt.Counters["onboard_d2d"]); n != 2 || rt.Counters["onboard_d2d"][1].V != 70 {
		t.Errorf("series %v", rt.Counters["onboard_d2d"])
	}
}
