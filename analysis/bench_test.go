package analysis_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"kvbench/analysis"
	"kvbench/ingest"
	"kvbench/results"
)

// writeBigBundles writes runs × perRun request rows (two arms, two phases,
// lognormal TTFTs) under dir, once per process.
func writeBigBundles(b *testing.B, dir string, runs, perRun int) {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	for r := 0; r < runs; r++ {
		arm := []string{"B1", "B2"}[r%2]
		_, kv, _ := results.ResolveModes(arm, "")
		id := fmt.Sprintf("big_%s_%02d", arm, r)
		d := filepath.Join(dir, id)
		os.MkdirAll(d, 0o755)
		w, err := results.NewTableWriter[results.Request](d, results.TableRequests, 0)
		if err != nil {
			b.Fatal(err)
		}
		batch := make([]results.Request, 0, 4096)
		for i := 0; i < perRun; i++ {
			ph := "populate"
			if i >= perRun/2 {
				ph = "replay"
			}
			v := int64(20e6 * math.Exp(0.5*rng.NormFloat64()))
			batch = append(batch, results.Request{RunID: id, Scenario: "rehydrate_replay", TierMode: arm, KVMode: kv, Phase: ph,
				RequestIndex: int64(i), Concurrency: 4, StartUnixNs: int64(i) * 1e6, TTFTNs: results.Ptr(v), LatencyNs: v + 30e6,
				ChunkOffsetsNs: []int64{v, v + 15e6}})
			if len(batch) == cap(batch) {
				w.Write(batch...)
				batch = batch[:0]
			}
		}
		w.Write(batch...)
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		results.WriteManifest(d, &results.Manifest{RunID: id, Scenario: "rehydrate_replay", TierMode: arm, KVMode: kv, Valid: true,
			StartedUnixNs: int64(r), Tables: map[string]results.TableInfo{results.TableRequests: w.Info()}})
	}
}

// BenchmarkAnalyze measures the whole analysis (read, group, every interval
// and comparison with 10,000 resamples) over N request rows in 10 runs and
// reports the peak Go heap. 1M rows by default; KVBENCH_BENCH_ROWS=10000000
// runs the 10-million-row target. load_s is reading and grouping
// (ingest and Analyzer.Add), stats_s the statistics (Analyzer.Summary).
//
//	go test -run '^$' -bench Analyze -benchtime 1x ./analysis
func BenchmarkAnalyze(b *testing.B) {
	rows := 1_000_000
	if s := os.Getenv("KVBENCH_BENCH_ROWS"); s != "" {
		rows, _ = strconv.Atoi(s)
	}
	dir := b.TempDir()
	t0 := time.Now()
	writeBigBundles(b, dir, 10, rows/10)
	b.Logf("wrote %d rows in %s", rows, time.Since(t0))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		stop, peak := watchHeap()
		t1 := time.Now()
		ds, err := ingest.Load([]string{dir}, ingest.Filter{})
		if err != nil {
			b.Fatal(err)
		}
		a := analysis.New(analysis.Options{Seed: 1, Baseline: "B1", Candidate: "B2", Resamples: 10000})
		a.AddDataset(ds)
		t2 := time.Now()
		s := a.Summary()
		b.ReportMetric(t2.Sub(t1).Seconds(), "load_s")
		b.ReportMetric(time.Since(t2).Seconds(), "stats_s")
		stop()
		if len(s.Comparisons) == 0 {
			b.Fatal("no comparisons")
		}
		b.ReportMetric(float64(*peak)/(1<<20), "peak_heap_MB")
		b.ReportMetric(float64(rows), "rows")
	}
}

// watchHeap samples the Go heap every 50 ms until stop is called; *peak is
// the largest HeapInuse seen.
func watchHeap() (stop func(), peak *uint64) {
	peak = new(uint64)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			*peak = max(*peak, ms.HeapInuse)
			select {
			case <-quit:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return func() { close(quit); <-done }, peak
}
