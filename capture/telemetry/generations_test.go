package telemetry

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"kvbench/results"
)

// parseFile parses an exposition fixture into metrics rows.
func parseFile(t *testing.T, name string) []results.MetricSample {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", "exposition", name))
	if err != nil {
		t.Fatal(err)
	}
	fams, err := parseExposition(body, "text/plain; version=0.0.4")
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return familyRows(results.MetricSample{}, fams)
}

// TestKVBMGenerationsCanonical: every generation of KVBM's metric names
// (on the worker's system port as dynamo_component_* with
// dynamo_namespace="kvbm_connector_leader", then the standalone kvbm_*
// registry with and without *_requests, d2d and object-store families)
// reads into the same canonical counters by role.
func TestKVBMGenerationsCanonical(t *testing.T) {
	cases := []struct {
		file string
		gen  string
		want map[string]float64
	}{
		{"kvbm_gen_a_system_port.prom", results.KVBMGenComponent, map[string]float64{
			results.KVBMMatched: 20480, results.KVBMOffloadD2H: 4096, results.KVBMOnboardD2D: 128, results.KVBMOnboardH2D: 512}},
		{"kvbm_gen_b.prom", results.KVBMGenBare, map[string]float64{
			results.KVBMMatched: 0, results.KVBMOffloadD2H: 6, results.KVBMOnboardD2D: 0, results.KVBMOnboardH2D: 0}},
		{"kvbm_gen_c.prom", results.KVBMGenBare, map[string]float64{
			results.KVBMMatched: 20480, results.KVBMOffloadD2H: 4096, results.KVBMOffloadH2D: 1024, results.KVBMOffloadD2D: 0,
			results.KVBMOnboardD2D: 128, results.KVBMOnboardH2D: 512}},
		{"kvbm_gen_d.prom", results.KVBMGenBare, map[string]float64{
			results.KVBMMatched: 20480, results.KVBMOffloadD2H: 4096, results.KVBMOffloadH2D: 1024, results.KVBMOffloadD2D: 0,
			results.KVBMOnboardD2D: 128, results.KVBMOnboardH2D: 512}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			got := map[string]float64{}
			gens := map[string]bool{}
			for _, r := range parseFile(t, c.file) {
				if g := results.KVBMGeneration(r.Name); g != "" {
					gens[g] = true
				}
				if role := results.KVBMRole(r.Name); role != "" {
					got[role] = r.Value
				}
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("canonical counters (-want +got):\n%s", diff)
			}
			if !gens[c.gen] || len(gens) != 1 {
				t.Errorf("generations %v; want only %s", gens, c.gen)
			}
		})
	}
}

// TestMixedWorkerExposition: the worker's system port mixes rust-prometheus
// and Python prometheus_client output (float counters, *_created gauges,
// le in the middle of the labels, _count before _sum) in one body.
func TestMixedWorkerExposition(t *testing.T) {
	rows := parseFile(t, "dynamo_system_trtllm.prom")
	byName := map[string][]results.MetricSample{}
	for _, r := range rows {
		byName[r.Name] = append(byName[r.Name], r)
	}
	if got := byName["trtllm_request_success_total"]; len(got) != 1 || got[0].Value != 2 || got[0].Type != "counter" {
		t.Errorf("trtllm_request_success_total = %+v; want one counter of 2", got)
	}
	if got := byName["trtllm_request_success_created"]; len(got) != 1 || got[0].Value != 1.7682648369328544e+09 {
		t.Errorf("trtllm_request_success_created = %+v", got)
	}
	buckets := byName["trtllm_e2e_request_latency_seconds_bucket"]
	if len(buckets) < 3 {
		t.Fatalf("%d e2e latency buckets; want the histogram's", len(buckets))
	}
	want := `{engine_type="trtllm",le="1",model_name="Qwen/Qwen3-0.6B"}`
	found := false
	for _, b := range buckets {
		if b.Labels == want {
			found = b.Value == 2
		}
	}
	if !found {
		t.Errorf("no bucket %s with 2 requests among %v", want, buckets)
	}
	if len(byName["dynamo_component_request_duration_seconds_bucket"]) == 0 {
		t.Error("the rust-prometheus part of the body was not read")
	}
}
