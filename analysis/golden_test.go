package analysis_test

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"kvbench/analysis"
	"kvbench/ingest"
	"kvbench/report"
	"kvbench/results"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fixtureBundles writes a fixed set of bundles: three B1 and three B2 runs
// of rehydrate_replay with lognormal TTFTs, B2 faster on replay, plus KVBM
// counters in the metrics table.
func fixtureBundles(t *testing.T, root string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(42, 7))
	for i, arm := range []string{"B1", "B2", "B2", "B1", "B1", "B2"} {
		runID := fmt.Sprintf("fx_%s_r%d", arm, i)
		dir := filepath.Join(root, runID)
		os.MkdirAll(dir, 0o755)
		_, kv, _ := results.ResolveModes(arm, "")
		start := int64(1_800_000_000_000_000_000) + int64(i)*1e12
		w, _ := results.NewTableWriter[results.Request](dir, results.TableRequests, 0)
		var phases []results.Phase
		idx := 0
		for pi, ph := range []string{"populate", "thrash", "replay"} {
			p := results.Phase{Name: ph, StartUnixNs: start + int64(pi)*1e10, EndUnixNs: start + int64(pi+1)*1e10 - 1e6, Concurrency: 2}
			for k := 0; k < 120; k++ {
				med := 20.0
				if ph == "replay" && arm == "B2" {
					med = 8
				}
				ttft := med * math.Exp(0.4*rng.NormFloat64())
				r := results.Request{RunID: runID, Scenario: "rehydrate_replay", TierMode: arm, KVMode: kv, Phase: ph,
					RequestIndex: int64(idx), Concurrency: 2, StartUnixNs: p.StartUnixNs + int64(k)*8e7,
					TTFTNs: results.Ptr(int64(ttft * 1e6)), LatencyNs: int64((ttft + 30) * 1e6),
					ChunkOffsetsNs: []int64{int64(ttft * 1e6), int64((ttft + 15) * 1e6), int64((ttft + 30) * 1e6)}}
				if k == 7 && ph == "replay" {
					r.ErrorKind, r.Error, r.TTFTNs = results.ErrTimeout, "request timed out", nil
				}
				w.Write(r)
				p.Requests++
				idx++
			}
			phases = append(phases, p)
		}
		w.Close()
		mw, _ := results.NewTableWriter[results.MetricSample](dir, results.TableMetrics, 0)
		cum := map[string]float64{}
		for _, p := range phases {
			for _, point := range []string{"start", "end"} {
				ts := p.StartUnixNs
				if point == "end" {
					ts = p.EndUnixNs
					cum["kvbm_offload_blocks_d2h"] += 400
					cum["kvbm_matched_tokens"] += 0
					if arm == "B2" && p.Name != "replay" {
						cum["kvbm_offload_blocks_h2d"] += 300
					}
					if arm == "B2" && p.Name == "replay" {
						cum["kvbm_onboard_blocks_d2d"] += 350
						cum["kvbm_matched_tokens"] += 350 * 32
					}
				}
				for _, name := range []string{"kvbm_matched_tokens", "kvbm_offload_blocks_d2h", "kvbm_offload_blocks_h2d", "kvbm_onboard_blocks_d2d", "kvbm_onboard_blocks_h2d"} {
					mw.Write(results.MetricSample{RunID: runID, Source: "kvbm", ScrapeUnixNs: ts, Phase: p.Name, Point: point,
						Name: name, Labels: "{}", Type: "counter", Value: cum[name]})
				}
			}
		}
		mw.Close()
		m := &results.Manifest{RunID: runID, Scenario: "rehydrate_replay", TierMode: arm, KVMode: kv, Valid: true,
			StartedUnixNs: start, EndedUnixNs: start + 3e10, Phases: phases,
			Config: map[string]string{"long-range": "6000:7600", "run-id": runID},
			Tables: map[string]results.TableInfo{results.TableRequests: w.Info(), results.TableMetrics: mw.Info()}}
		results.WriteManifest(dir, m)
	}
}

// analyze runs the pipeline over the bundles under root, as analyze
// report does.
func analyze(t testing.TB, root string, opt analysis.Options) *analysis.Summary {
	t.Helper()
	ds, err := ingest.Load([]string{root}, ingest.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	a := analysis.New(opt)
	a.AddDataset(ds)
	return a.Summary()
}

// TestGoldenReport holds the bytes of report.md and summary.json for a
// fixed set of bundles: ingest, analysis and report together.
func TestGoldenReport(t *testing.T) {
	root := t.TempDir()
	fixtureBundles(t, root)
	s := analyze(t, root, analysis.Options{Seed: 1, Baseline: "B1", Candidate: "B2", Resamples: 400})
	var md, js bytes.Buffer
	if err := report.Markdown(&md, s); err != nil {
		t.Fatal(err)
	}
	if err := report.JSON(&js, s); err != nil {
		t.Fatal(err)
	}
	// summary.json is what scripts read: its bytes are held too.
	checkGolden(t, "report.golden.md", md.Bytes())
	checkGolden(t, "summary.golden.json", bytes.ReplaceAll(js.Bytes(), []byte(root), []byte("ROOT")))
	// The planted effect and the evidence come out.
	found := false
	for _, c := range s.Comparisons {
		if c.Phase == results.PhaseReplay && c.Metric == results.MetricTTFT && c.P == 0.5 {
			found = true
			if c.Verdict != results.VerdictBetter || c.Ratio > 0.5 {
				t.Errorf("replay p50: verdict %s ratio %v; want better, about 0.4", c.Verdict, c.Ratio)
			}
		}
	}
	if !found {
		t.Error("no replay p50 comparison")
	}
	for _, r := range s.Rehydrate {
		want := results.RehydrateGated
		if r.Arm == "B2" {
			want = results.RehydrateObserved
		}
		if r.Verdict != want {
			t.Errorf("%s: rehydrate %s; want %s", r.RunID, r.Verdict, want)
		}
	}
}

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden := filepath.Join("testdata", name)
	if *update {
		os.WriteFile(golden, got, 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./analysis -run Golden -update to create)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test ./analysis -run Golden -update to accept); got:\n%s", golden, got)
	}
}
