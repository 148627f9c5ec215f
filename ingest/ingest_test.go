package ingest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"kvbench/results"
)

// writeBundle writes a small valid bundle and returns its directory.
func writeBundle(t *testing.T, root, runID, tier string, ttftsMs []float64, started int64) string {
	t.Helper()
	dir := filepath.Join(root, runID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	w, err := results.NewTableWriter[results.Request](dir, results.TableRequests, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, kv, _ := results.ResolveModes(tier, "")
	w.Write(results.Request{RunID: runID, Scenario: "standard", TierMode: tier, KVMode: kv, Phase: "warmup",
		TTFTNs: results.Ptr(int64(999e6)), LatencyNs: 1e9, Concurrency: 2})
	for i, v := range ttftsMs {
		r := results.Request{RunID: runID, Scenario: "standard", TierMode: tier, KVMode: kv, Phase: "measure",
			RequestIndex: int64(i + 1), TTFTNs: results.Ptr(int64(v * 1e6)), LatencyNs: int64(v*1e6) + 5e6,
			Concurrency: 2, StartUnixNs: started + int64(i)*1e6, ChunkOffsetsNs: []int64{int64(v * 1e6), int64(v*1e6) + 2e6}}
		w.Write(r)
	}
	w.Write(results.Request{RunID: runID, Scenario: "standard", TierMode: tier, KVMode: kv, Phase: "measure",
		ErrorKind: results.ErrHTTP, StatusCode: 500, Concurrency: 2, LatencyNs: 1e6})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	m := &results.Manifest{RunID: runID, Scenario: "standard", TierMode: tier, KVMode: kv, Valid: true,
		StartedUnixNs: started, Tables: map[string]results.TableInfo{results.TableRequests: w.Info()}}
	if err := results.WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestDiscoverAndLoad(t *testing.T) {
	root := t.TempDir()
	writeBundle(t, root, "b1", "B1", []float64{10, 20, 30}, 2e18)
	writeBundle(t, filepath.Join(root, "campaign"), "b2", "B2", []float64{5, 6}, 1e18)

	// Incomplete: data but no manifest.
	inc := writeBundle(t, root, "killed", "B2", []float64{1}, 3e18)
	os.Remove(filepath.Join(inc, "manifest.json"))
	// Unknown manifest format.
	bad := writeBundle(t, root, "future", "B1", []float64{1}, 3e18)
	os.WriteFile(filepath.Join(bad, "manifest.json"), []byte(`{"format":9,"run_id":"future"}`), 0o644)
	// Corrupt Parquet behind a good manifest.
	cor := writeBundle(t, root, "corrupt", "B1", []float64{1}, 3e18)
	os.WriteFile(filepath.Join(cor, "requests.parquet"), []byte("PAR1 garbage"), 0o644)
	// Row count mismatch.
	short := writeBundle(t, root, "short", "B1", []float64{1, 2}, 3e18)
	m, _ := results.ReadManifest(short)
	info := m.Tables["requests"]
	info.Rows = 99
	m.Tables["requests"] = info
	results.WriteManifest(short, m)
	// A duplicate run id elsewhere.
	writeBundle(t, filepath.Join(root, "copy"), "b1", "B1", []float64{1}, 2e18)

	ds, err := Load([]string{root}, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var runs []*Run
	for r := range ds.Runs() {
		runs = append(runs, r)
	}
	var ids []string
	for _, r := range runs {
		ids = append(ids, r.Manifest.RunID)
	}
	if strings.Join(ids, ",") != "b2,b1" {
		t.Errorf("runs = %v; want b2,b1 (by start time)", ids)
	}
	reasons := map[string]string{}
	for _, s := range ds.Skipped {
		reasons[filepath.Base(s.Path)] = s.Reason
	}
	for name, want := range map[string]string{
		"killed": "incomplete", "future": "format 9", "corrupt": "requests.parquet", "short": "manifest says 99", "b1": "duplicate run_id",
	} {
		if !strings.Contains(reasons[name], want) {
			t.Errorf("skipped %s: reason %q; want it to mention %q (all: %v)", name, reasons[name], want, reasons)
		}
	}
	// b1: a warmup row, three measured requests and a failure, as written.
	rq := runs[1].Requests
	if len(rq) != 5 || rq[0].Phase != "warmup" || rq[3].TTFTNs != 30e6 || !rq[3].HasTTFT || rq[3].Chunks != 2 ||
		rq[3].LastChunkNs-rq[3].FirstChunkNs != 2e6 || rq[4].ErrorKind != results.ErrHTTP || rq[4].HasTTFT {
		t.Errorf("b1 requests %+v", rq)
	}
	if runs[1].TelemetryErr != nil || len(runs[1].Metrics) != 0 {
		t.Errorf("b1 has no telemetry tables: err %v, %d metric rows", runs[1].TelemetryErr, len(runs[1].Metrics))
	}

	// Filters.
	ds, _ = Load([]string{root}, Filter{TierModes: []string{"B2"}})
	if len(ds.Bundles) != 1 || ds.Bundles[0].Manifest.RunID != "b2" {
		t.Errorf("tier filter: %d bundles", len(ds.Bundles))
	}
}

func TestDiscoverErrors(t *testing.T) {
	empty := t.TempDir()
	file := filepath.Join(empty, "f.txt")
	os.WriteFile(file, []byte("x"), 0o644)
	cases := map[string]string{
		filepath.Join(empty, "nope"): "no such file",
		file:                         "not a directory",
		empty:                        "no run bundles found",
	}
	for path, want := range cases {
		_, _, err := Discover([]string{path}, Filter{})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
			t.Errorf("Discover(%s) = %v; want error naming the path and %q", path, err, want)
		}
	}
}

func TestExport(t *testing.T) {
	root := t.TempDir()
	writeBundle(t, root, "b1", "B1", []float64{10, 20, 30}, 2e18)
	writeBundle(t, root, "b2", "B2", []float64{5}, 1e18)
	bad := writeBundle(t, root, "bad", "B2", []float64{5}, 1e18)
	m, _ := results.ReadManifest(bad)
	m.Valid = false
	results.WriteManifest(bad, m)
	bundles, _, err := Discover([]string{root}, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	st, skipped, err := Export(bundles, out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Runs != 2 || st.Rows != 5+3 || len(skipped) != 1 {
		t.Errorf("stats %+v skipped %v", st, skipped)
	}
	part := filepath.Join(out, "requests", "scenario=standard", "tier_mode=B1", "run_id=b1", "part-0.parquet")
	f, err := os.Open(part)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	pf, err := parquet.OpenFile(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	if pf.NumRows() != 5 {
		t.Errorf("rows %d; want 5", pf.NumRows())
	}
	cols := map[string]bool{}
	for _, fld := range pf.Schema().Fields() {
		cols[fld.Name()] = true
	}
	if cols["run_id"] || cols["tier_mode"] || cols["scenario"] || !cols["ttft_ns"] || !cols["chunk_offsets_ns"] {
		t.Errorf("exported columns %v", cols)
	}
	if v, _ := pf.Lookup(results.MetaSchemaVersion); v != "1" {
		t.Errorf("schema version metadata %q", v)
	}
	type row struct {
		Phase  string `parquet:"phase"`
		TTFTNs *int64 `parquet:"ttft_ns,optional"`
	}
	rows := make([]row, 5)
	n, _ := parquet.NewGenericReader[row](pf).Read(rows)
	if n != 5 || rows[0].Phase != "warmup" || rows[2].TTFTNs == nil || *rows[2].TTFTNs != 20e6 {
		t.Errorf("exported values %+v", rows[:n])
	}
}

// TestReadRunTelemetry: ReadRun keeps the KVBM counter samples of
// successful scrapes (any name generation) and the io and cachedir rows;
// an unreadable telemetry table is reported, not fatal.
func TestReadRunTelemetry(t *testing.T) {
	root := t.TempDir()
	dir := writeBundle(t, root, "r", "B2", []float64{10}, 1e18)
	mw, _ := results.NewTableWriter[results.MetricSample](dir, results.TableMetrics, 0)
	for _, name := range []string{"kvbm_onboard_blocks_d2d", "dynamo_component_matched_tokens_total", "vllm_num_requests_running"} {
		mw.Write(results.MetricSample{RunID: "r", Source: "kvbm", Name: name, Labels: "{}", Type: "counter", Value: 1})
	}
	mw.Write(results.MetricSample{RunID: "r", Source: "kvbm", ScrapeError: "connection refused"})
	mw.Close()
	iw, _ := results.NewTableWriter[results.IOSample](dir, results.TableIO, 0)
	iw.Write(results.IOSample{RunID: "r", Scope: results.IOScopeDevice, Target: "nvme0n1", ReadBytes: 1 << 20})
	iw.Close()
	m, _ := results.ReadManifest(dir)
	m.Tables[results.TableMetrics], m.Tables[results.TableIO] = mw.Info(), iw.Info()
	results.WriteManifest(dir, m)
	b := Bundle{Dir: dir, Manifest: m}
	r, err := ReadRun(b)
	if err != nil {
		t.Fatal(err)
	}
	if r.TelemetryErr != nil || len(r.Metrics) != 2 || r.Metrics[1].Name != "dynamo_component_matched_tokens_total" || len(r.IO) != 1 || len(r.CacheDir) != 0 {
		t.Errorf("telemetry: err %v, metrics %+v, io %d, cachedir %d", r.TelemetryErr, r.Metrics, len(r.IO), len(r.CacheDir))
	}
	os.WriteFile(filepath.Join(dir, m.Tables[results.TableIO].File), []byte("PAR1 garbage"), 0o644)
	r, err = ReadRun(b)
	if err != nil || r.TelemetryErr == nil || !strings.Contains(r.TelemetryErr.Error(), "io table") || len(r.Metrics) != 0 || len(r.Requests) != 3 {
		t.Errorf("corrupt io table: err %v, telemetry err %v, %d metric rows", err, r.TelemetryErr, len(r.Metrics))
	}
}
