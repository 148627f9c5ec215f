package sim

import (
	"bytes"
	"flag"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update)", err, t.Name())
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// checkRustFormat checks what rust-prometheus's TextEncoder guarantees:
// HELP then TYPE per family, families sorted, no blank lines, le last.
func checkRustFormat(t *testing.T, text []byte) {
	t.Helper()
	var names []string
	lines := strings.Split(strings.TrimSuffix(string(text), "\n"), "\n")
	for i, l := range lines {
		switch {
		case l == "":
			t.Errorf("line %d is blank", i+1)
		case strings.HasPrefix(l, "# HELP "):
			name := strings.Fields(l)[2]
			names = append(names, name)
			if i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "# TYPE "+name+" ") {
				t.Errorf("line %d: HELP %s not followed by its TYPE", i+1, name)
			}
		case strings.Contains(l, "le=") && !strings.Contains(l, `,le="`) && !strings.Contains(l, `{le="`):
			t.Errorf("line %d: le is not the last label: %s", i+1, l)
		case strings.Contains(l, `le="`) && !strings.Contains(l, `"} `):
			t.Errorf("line %d: le is not the last label: %s", i+1, l)
		}
	}
	if !sort.StringsAreSorted(names) {
		t.Errorf("families not sorted: %v", names)
	}
}

func parseText(t *testing.T, text []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("parse exposition: %v\n%s", err, text)
	}
	return fams
}

func TestMetricsGolden(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Model = "Qwen/Qwen3-8B"

	fe := newFrontendMetrics(cfg)
	fe.seen.Store(true)
	for _, v := range []float64{0.05, 0.3, 0.3, 1.5} {
		fe.ttft.observe(v)
		fe.duration.observe(v * 10)
	}
	for _, v := range []float64{0.002, 0.05, 0.05} {
		fe.itl.observe(v)
	}
	fe.isl.observe(4000)
	fe.osl.observe(100)
	fe.cached.observe(3200)
	fe.outputTokens.Add(300)
	fe.active.Add(2)
	fe.queued.Add(1)
	fe.countRequest(reqKey{"completions", "", "stream", "success"})
	fe.countRequest(reqKey{"completions", "", "stream", "success"})
	fe.countRequest(reqKey{"completions", "validation", "unary", "error"})
	fe.countRequest(reqKey{"completions", "cancelled", "stream", "error"})

	sys := newSystemMetrics(cfg)
	sys.requests.Add(7)
	sys.inflight.Add(3)
	sys.activeBlocks.Add(256)
	sys.duration.observe(0.2)

	stats := KVBMStats{
		OffloadBlocksD2H: 9216, OffloadBlocksH2D: 2048, OnboardBlocksH2D: 5120, OnboardBlocksD2D: 640,
		MatchedTokens: 184320, HostCacheHitRate: 0.664, DiskCacheHitRate: 0.125,
	}

	for _, tc := range []struct {
		name  string
		text  []byte
		check func(t *testing.T, f map[string]*dto.MetricFamily)
	}{
		{"frontend", fe.write(nil), func(t *testing.T, f map[string]*dto.MetricFamily) {
			h := f["dynamo_frontend_time_to_first_token_seconds"].GetMetric()[0].GetHistogram()
			var les []float64
			for _, b := range h.GetBucket() {
				les = append(les, b.GetUpperBound())
			}
			if diff := cmp.Diff(append(append([]float64(nil), bucketsTTFT...), math.Inf(1)), les); diff != "" {
				t.Errorf("TTFT buckets (-want +got):\n%s", diff)
			}
			if h.GetSampleCount() != 4 || math.Abs(h.GetSampleSum()-2.15) > 1e-9 {
				t.Errorf("TTFT count %d sum %v; want 4, 2.15", h.GetSampleCount(), h.GetSampleSum())
			}
			if n := len(f["dynamo_frontend_requests_total"].GetMetric()); n != 3 {
				t.Errorf("requests_total has %d series; want 3", n)
			}
		}},
		{"kvbm", writeKVBM(nil, stats), func(t *testing.T, f map[string]*dto.MetricFamily) {
			if len(f) != 13 {
				t.Errorf("%d kvbm families; want 13", len(f))
			}
			for name, fam := range f {
				if strings.HasSuffix(name, "_total") || len(fam.GetMetric()) != 1 || len(fam.GetMetric()[0].GetLabel()) != 0 {
					t.Errorf("family %s: want one unlabelled series and no _total suffix", name)
				}
			}
		}},
		{"system", sys.write(nil, 12.5), func(t *testing.T, f map[string]*dto.MetricFamily) {
			if got := f["dynamo_component_gpu_cache_usage_percent"].GetMetric()[0].GetGauge().GetValue(); got != 0.25 {
				t.Errorf("gpu_cache_usage_percent = %v; want 256/1024", got)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			golden(t, tc.name, tc.text)
			checkRustFormat(t, tc.text)
			tc.check(t, parseText(t, tc.text))
		})
	}
}

func TestFormatFloats(t *testing.T) {
	for _, tc := range []struct {
		v            float64
		rust, python string
	}{
		{6, "6", "6.0"},
		{0, "0", "0.0"},
		{0.0022, "0.0022", "0.0022"},
		{float64(float32(0.664)), "0.6639999747276306", "0.6639999747276306"},
		{1e-5, "0.00001", "1e-05"},
		{1024, "1024", "1024.0"},
		{math.Inf(1), "+Inf", "+Inf"},
	} {
		if got := formatRust(tc.v); got != tc.rust {
			t.Errorf("formatRust(%v) = %q; want %q", tc.v, got, tc.rust)
		}
		if got := formatPython(tc.v); got != tc.python {
			t.Errorf("formatPython(%v) = %q; want %q", tc.v, got, tc.python)
		}
	}
}

// TestLiveMetrics scrapes the three ports of a running server after one
// request and checks the families move.
func TestLiveMetrics(t *testing.T) {
	srv := startServer(t, testConfig(t, KVModeCPUDisk))
	a := srv.Addrs()
	// Before any request: static frontend gauges only, all KVBM families.
	if f := scrape(t, "http://"+a.API+"/metrics"); f["dynamo_frontend_requests_total"] != nil || f["dynamo_frontend_model_kv_cache_block_size"] == nil {
		t.Errorf("frontend before any request: families %v", keys(f))
	}
	if f := scrape(t, "http://"+a.KVBM+"/metrics"); len(f) != 13 {
		t.Errorf("kvbm families before any request: %v; want 13", keys(f))
	}
	if code, body := post(t, http.DefaultClient, a.API, map[string]any{"model": DefaultModel, "prompt": words("m", 96), "max_tokens": 3, "stream": true}); code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	fe := scrape(t, "http://"+a.API+"/metrics")
	if got := fe["dynamo_frontend_time_to_first_token_seconds"].GetMetric()[0].GetHistogram().GetSampleCount(); got != 1 {
		t.Errorf("TTFT count %d; want 1", got)
	}
	if got := fe["dynamo_frontend_inter_token_latency_seconds"].GetMetric()[0].GetHistogram().GetSampleCount(); got != 2 {
		t.Errorf("ITL count %d; want 2", got)
	}
	if got := fe["dynamo_frontend_output_tokens_total"].GetMetric()[0].GetCounter().GetValue(); got != 3 {
		t.Errorf("output tokens %v; want 3", got)
	}
	if got := kvbmValue(t, "http://"+a.KVBM+"/metrics", "kvbm_offload_blocks_d2h"); got != 3 {
		t.Errorf("kvbm_offload_blocks_d2h = %v; want 3 (write-through of 3 computed blocks)", got)
	}
	sys := scrape(t, "http://"+a.System+"/metrics")
	if got := sys["dynamo_component_requests_total"].GetMetric()[0].GetCounter().GetValue(); got != 1 {
		t.Errorf("dynamo_component_requests_total = %v; want 1", got)
	}
}

func keys(m map[string]*dto.MetricFamily) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
