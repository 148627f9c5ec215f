package capture

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"kvbench/capture/telemetry"
	"kvbench/sim/simtest"
)

// BenchmarkDurability measures what crash durability costs: the same
// closed-loop run (5,000 streamed requests of 8 tokens at concurrency 16,
// the KVBM endpoint scraped every 100 ms) against the in-process
// simulator, with --durable-interval 0 (each table written once, at the
// end), the default 1 s, and 100 ms. The modes are interleaved, round
// after round, in this one process; it reports, for each, requests per
// second over whole runs (plan, phases, compaction) and over the phases
// alone, CPU per request (the whole process: client, writers and
// simulator), and the CPU per request beyond durability off.
func BenchmarkDurability(b *testing.B) {
	srv := simtest.Start(b, nil)
	a := srv.Addrs()
	modes := []struct {
		name  string
		every time.Duration
	}{{"off", 0}, {"1s", time.Second}, {"100ms", 100 * time.Millisecond}}
	const requests = 5000
	wall := make([]time.Duration, len(modes))  // whole runs: plan, phases, compaction
	phase := make([]time.Duration, len(modes)) // the phases alone
	cpu := make([]time.Duration, len(modes))
	dir := b.TempDir()
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		for round := 0; round < 3; round++ {
			for i, m := range modes {
				cfg := &Config{BaseURL: "http://" + a.API, TierMode: "B1", Scenario: ScenarioStandard, PromptSet: "short",
					LongRange: Range{100, 200}, Requests: requests, Concurrency: 16, MaxTokens: 8, TopP: 1, RequestSeed: 9,
					Stream: true, MaxErrorRate: 0.05, RunID: fmt.Sprintf("%s-%d-%d", m.name, it, round), ResultsDir: dir,
					ModelResolveTimeout: time.Second, DurableInterval: m.every,
					Telemetry: telemetry.Options{KVBMURL: "http://" + a.KVBM + "/metrics", MetricsInterval: 100 * time.Millisecond}}
				c0, t0 := cpuTime(), time.Now()
				out, err := Run(context.Background(), cfg, io.Discard, nil)
				wall[i] += time.Since(t0)
				cpu[i] += cpuTime() - c0
				if err != nil || !out.Manifest.Valid {
					b.Fatalf("%s: %v %v", m.name, err, out.Manifest.InvalidReasons)
				}
				for _, p := range out.Manifest.Phases {
					phase[i] += time.Duration(p.EndUnixNs - p.StartUnixNs)
				}
			}
		}
	}
	n := float64(b.N * 3 * requests)
	for i, m := range modes {
		b.ReportMetric(n/wall[i].Seconds(), m.name+"_run_req/s")
		b.ReportMetric(n/phase[i].Seconds(), m.name+"_phase_req/s")
		b.ReportMetric(float64(cpu[i].Microseconds())/n, m.name+"_cpu_us/req")
		if i > 0 {
			b.ReportMetric(float64((cpu[i]-cpu[0]).Microseconds())/n, m.name+"_extra_cpu_us/req")
		}
	}
}
