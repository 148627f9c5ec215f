package capture

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"kvbench/capture/telemetry"
	"kvbench/results"
	"kvbench/sim"
	"kvbench/sim/simtest"
)

// TestTelemetryAttributesDiskWritesToPhases runs eviction_replay against
// the in-process simulator in cpu_disk mode with the disk filter off, so
// every new block is written to a real file in the G3 directory. The I/O
// sampler watches this process (the simulator runs in it) and must put the
// bytes in the phases that offloaded: populate and thrash write at least
// Δkvbm_offload_blocks_h2d × file size, replay (all hits) writes next to
// nothing. The cache-directory table must show the files appear.
func TestTelemetryAttributesDiskWritesToPhases(t *testing.T) {
	const fileBytes = 16 << 10
	g3 := t.TempDir()
	srv := simtest.Start(t, func(scfg *sim.Config) {
		scfg.Costs, _ = sim.Preset(sim.DefaultPresetID)
		scfg.KVMode, scfg.TimeScale = sim.KVModeCPUDisk, 0.1
		scfg.DisableDiskFilter, scfg.DiskCacheDir, scfg.DiskBlockFileBytes = true, g3, fileBytes
	})
	addrs := srv.Addrs()
	cfg := evictionConfig(addrs, g3, t.TempDir())
	samplers, err := cfg.Telemetry.Samplers()
	if err != nil {
		t.Fatal(err)
	}
	// Note: the simulator, like KVBM, counts a block when its write is
	// queued and writes the file a moment later; on a loaded machine the
	// writes of one phase could land in the next. The first sampler waits
	// at each boundary until every counted block has its file, so the
	// phases compared below hold their own writes.
	settle := &diskSettled{dir: g3, cache: srv.Cache()}
	out, err := run(context.Background(), cfg, append([]telemetry.Sampler{settle}, samplers...), io.Discard, noProgress{})
	if err != nil {
		t.Fatal(err)
	}
	m := out.Manifest
	if !m.Valid {
		t.Fatalf("run invalid: %v (warnings %v)", m.InvalidReasons, m.Warnings)
	}
	for _, table := range []string{results.TableMetrics, results.TableIO, results.TableCacheDir} {
		if m.Tables[table].Rows == 0 {
			t.Errorf("manifest table %s: %+v; want rows", table, m.Tables[table])
		}
	}

	dH2D := offloadedH2D(t, out.Dir)
	wb, intervals := processWrites(t, out.Dir)
	if intervals == 0 {
		t.Errorf("no interval io rows; want samples every 20ms")
	}
	dWB := func(phase string) int64 { return wb[phase][telemetry.PointEnd] - wb[phase][telemetry.PointStart] }
	for _, ph := range []string{results.PhasePopulate, results.PhaseThrash, results.PhaseReplay} {
		t.Logf("%-8s Δh2d %4.0f blocks  Δwrite_bytes %8d", ph, dH2D(ph), dWB(ph))
	}
	// Writes that land between one phase's end sample and the next
	// phase's start sample belong to neither; hence half the expected
	// bytes per phase, and the whole run compared with the whole count.
	for _, ph := range []string{results.PhasePopulate, results.PhaseThrash} {
		if dH2D(ph) <= 0 {
			t.Fatalf("%s: Δkvbm_offload_blocks_h2d = %v; want > 0 with the disk filter off", ph, dH2D(ph))
		}
		if want := int64(dH2D(ph)) * fileBytes / 2; dWB(ph) < want {
			t.Errorf("%s: process Δwrite_bytes = %d; want at least %d (half of Δh2d × %d-byte block files)", ph, dWB(ph), want, fileBytes)
		}
	}
	if dH2D(results.PhaseReplay) != 0 {
		t.Errorf("replay: Δh2d = %v; want 0 (all hits)", dH2D(results.PhaseReplay))
	}
	if got, pop := dWB(results.PhaseReplay), dWB(results.PhasePopulate); got*4 > pop {
		t.Errorf("replay: Δwrite_bytes = %d; want far below populate's %d", got, pop)
	}
	total := int64(dH2D(results.PhasePopulate)+dH2D(results.PhaseThrash)) * fileBytes
	if got := wb[results.PhaseReplay][telemetry.PointEnd] - wb[results.PhasePopulate][telemetry.PointStart]; got < total*3/4 {
		t.Errorf("whole run: Δwrite_bytes = %d; want at least 3/4 of %d", got, total)
	}

	if got, want := filesCreated(t, out.Dir)[results.PhasePopulate], int64(dH2D(results.PhasePopulate))/2; got < want {
		t.Errorf("cachedir: %d files created in populate; want at least half of Δh2d = %v", got, dH2D(results.PhasePopulate))
	}
	if m.Facts["metrics_sources"] == nil || m.Facts["io"] == nil {
		t.Errorf("facts %v; want metrics_sources and io", m.Facts)
	}
}

// evictionConfig is a small eviction_replay run against addrs in cpu_disk
// mode, with the Prometheus, process I/O and cache-directory samplers of
// the G3 directory g3.
func evictionConfig(addrs sim.Addrs, g3, resultsDir string) *Config {
	return &Config{
		BaseURL: "http://" + addrs.API, KVMode: "cpu_disk", Scenario: ScenarioEvictionReplay, PromptSet: "short",
		LongRange: Range{Min: 500, Max: 700}, Requests: 1, Concurrency: 1, MaxTokens: 4, TopP: 1, RequestSeed: 7,
		EvictionARequests: 4, EvictionBRequests: 4, EvictionAConcurrency: 2, EvictionBConcurrency: 2,
		MaxNumTokens: 8192, MaxErrorRate: 0.05, ResultsDir: resultsDir, RunID: "e2e",
		RequestTimeout: 30 * time.Second, ModelResolveTimeout: 5 * time.Second, ModelResolvePoll: 100 * time.Millisecond,
		Telemetry: telemetry.Options{
			KVBMURL: "http://" + addrs.KVBM + "/metrics", SystemURL: "http://" + addrs.System + "/metrics",
			MetricsTimeout: 2 * time.Second, IOPIDs: []int{os.Getpid()}, IOInterval: 20 * time.Millisecond, CacheDir: g3,
		},
	}
}

// offloadedH2D returns Δkvbm_offload_blocks_h2d of a phase, from the
// boundary scrapes of the run in dir.
func offloadedH2D(t *testing.T, dir string) func(phase string) float64 {
	t.Helper()
	rows, err := results.ReadAll[results.MetricSample](filepath.Join(dir, "metrics.parquet"), results.TableMetrics)
	if err != nil {
		t.Fatal(err)
	}
	h2d := map[string]map[string]float64{}
	for _, r := range rows {
		if r.Source == telemetry.SourceKVBM && r.Name == "kvbm_offload_blocks_h2d" {
			if h2d[r.Phase] == nil {
				h2d[r.Phase] = map[string]float64{}
			}
			h2d[r.Phase][r.Point] = r.Value
		}
		if r.ScrapeError != "" {
			t.Errorf("scrape failed: %+v", r)
		}
	}
	return func(phase string) float64 { return h2d[phase][telemetry.PointEnd] - h2d[phase][telemetry.PointStart] }
}

// processWrites returns this process's write_bytes at each phase boundary
// (phase → point → bytes) of the run in dir, and how many interval
// samples there were between boundaries.
func processWrites(t *testing.T, dir string) (map[string]map[string]int64, int) {
	t.Helper()
	rows, err := results.ReadAll[results.IOSample](filepath.Join(dir, "io.parquet"), results.TableIO)
	if err != nil {
		t.Fatal(err)
	}
	wb := map[string]map[string]int64{}
	intervals := 0
	for _, r := range rows {
		if r.Scope != results.IOScopeProcess {
			continue
		}
		if r.Point == telemetry.PointInterval {
			intervals++
			continue
		}
		if wb[r.Phase] == nil {
			wb[r.Phase] = map[string]int64{}
		}
		wb[r.Phase][r.Point] = r.WriteBytes
	}
	return wb, intervals
}

// filesCreated returns the cache-directory files created per phase in
// the run in dir.
func filesCreated(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	rows, err := results.ReadAll[results.CacheDirSnapshot](filepath.Join(dir, "cachedir.parquet"), results.TableCacheDir)
	if err != nil {
		t.Fatal(err)
	}
	created := map[string]int64{}
	for _, r := range rows {
		created[r.Phase] += r.FilesCreated
	}
	return created
}

// diskSettled is a sampler that writes nothing: at each boundary it waits
// (at most five seconds) until the G3 directory holds a file for every
// block the simulator counted as offloaded to disk.
type diskSettled struct {
	dir   string
	cache *sim.KVCache
}

func (d *diskSettled) Name() string                               { return "disk-settled" }
func (d *diskSettled) Open(context.Context, string, string) error { return nil }
func (d *diskSettled) Close() telemetry.Report                    { return telemetry.Report{} }

func (d *diskSettled) Mark(string, string) {
	want := int(d.cache.Stats().OffloadBlocksH2D)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		files, _ := filepath.Glob(filepath.Join(d.dir, "*", "*.kv"))
		if len(files) >= want {
			return
		}
	}
}
