package telemetry

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"kvbench/results"
)

func readFixture(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const (
	ctText = "text/plain; version=0.0.4; charset=utf-8"
	ctOM   = "application/openmetrics-text; version=1.0.0; charset=utf-8"
)

// rowKey finds a row by name and labels.
func findRow(rows []results.MetricSample, name, labels string) (results.MetricSample, bool) {
	for _, r := range rows {
		if r.Name == name && r.Labels == labels {
			return r, true
		}
	}
	return results.MetricSample{}, false
}

// TestParseExpositionFixtures parses each recorded exposition and checks
// the rows of its notable families.
// Note: a table of fixtures with the rows each must give.
func TestParseExpositionFixtures(t *testing.T) {
	type want struct {
		name, labels, typ string
		value             float64
	}
	for _, tc := range []struct {
		name, file, contentType string
		rows                    int
		want                    []want
	}{
		{
			name: "dynamo frontend + kvbm text", file: "exposition/dynamo_kvbm.prom", contentType: ctText,
			// 19 buckets + _sum + _count, 5 KVBM families, 3 companion lines.
			rows: 29,
			want: []want{
				{"kvbm_onboard_blocks_h2d", "{}", "counter", 5120},
				{"kvbm_onboard_blocks_d2d", "{}", "counter", 640},
				{"kvbm_matched_tokens", "{}", "counter", (5120 + 640) * 32},
				{"kvbm_host_cache_hit_rate", "{}", "gauge", 0.6639999747276306},
				{"kvbm_disk_cache_hit_rate", "{}", "gauge", 0.125},
				{"dynamo_frontend_time_to_first_token_seconds_bucket", `{le="0.0022",model="Qwen/Qwen3-8B"}`, "histogram", 0},
				{"dynamo_frontend_time_to_first_token_seconds_bucket", `{le="0.47",model="Qwen/Qwen3-8B"}`, "histogram", 352},
				{"dynamo_frontend_time_to_first_token_seconds_bucket", `{le="+Inf",model="Qwen/Qwen3-8B"}`, "histogram", 480},
				{"dynamo_frontend_time_to_first_token_seconds_sum", `{model="Qwen/Qwen3-8B"}`, "histogram", 173.62414470000003},
				{"dynamo_frontend_time_to_first_token_seconds_count", `{model="Qwen/Qwen3-8B"}`, "histogram", 480},
				{"dynamo_frontend_requests_total", `{endpoint="completions",error_type="",model="Qwen/Qwen3-8B",request_type="stream",status="success"}`, "counter", 480},
			},
		},
		{
			name: "text without content type", file: "exposition/legacy_v05.prom", contentType: "",
			rows: 4,
			want: []want{
				{"dynamo_component_offload_blocks_d2h", `{dynamo_namespace="kvbm_connector_leader"}`, "counter", 1536},
				{"dynamo_component_uptime_seconds", "{}", "gauge", 812.5},
			},
		},
		{
			name: "openmetrics", file: "exposition/openmetrics.txt", contentType: ctOM,
			// counter 1, gauge 1, histogram 3 buckets + sum + count, summary 2 quantiles + sum + count.
			rows: 11,
			want: []want{
				{"kvbm_onboard_blocks_h2d_total", "{}", "counter", 5120},
				{"kvbm_inflight_onboard_hashes", "{}", "gauge", 2},
				{"kvbm_transfer_duration_seconds_bucket", `{le="0.01",operation="onboard",route="d2d"}`, "histogram", 7},
				{"kvbm_transfer_duration_seconds_bucket", `{le="+Inf",operation="onboard",route="d2d"}`, "histogram", 9},
				{"kvbm_transfer_duration_seconds_count", `{operation="onboard",route="d2d"}`, "histogram", 9},
				{"rpc_duration_seconds", `{quantile="0.99",service="nats"}`, "summary", 0.08},
				{"rpc_duration_seconds_count", `{service="nats"}`, "summary", 120},
			},
		},
		{
			name: "openmetrics sniffed by # EOF", file: "exposition/openmetrics.txt", contentType: "",
			rows: 11,
			want: []want{{"kvbm_onboard_blocks_h2d_total", "{}", "counter", 5120}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fams, err := parseExposition(readFixture(t, tc.file), tc.contentType)
			if err != nil {
				t.Fatalf("parseExposition(%s): %v", tc.file, err)
			}
			rows := familyRows(results.MetricSample{Source: "x"}, fams)
			if len(rows) != tc.rows {
				for _, r := range rows {
					t.Logf("%s%s %v", r.Name, r.Labels, r.Value)
				}
				t.Fatalf("%d rows; want %d", len(rows), tc.rows)
			}
			for _, w := range tc.want {
				r, ok := findRow(rows, w.name, w.labels)
				if !ok {
					t.Errorf("no row %s%s", w.name, w.labels)
					continue
				}
				if r.Type != w.typ || r.Value != w.value || r.ScrapeError != "" || r.Source != "x" {
					t.Errorf("row %s%s = type %q value %v error %q; want %q %v", w.name, w.labels, r.Type, r.Value, r.ScrapeError, w.typ, w.value)
				}
			}
		})
	}
}

func TestParseExpositionErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body, contentType, want string
	}{
		{"garbage", "<html><body>502 Bad Gateway</body></html>\n", ctText, "parse"},
		{"empty", "", ctText, "no samples"},
		{"only comments", "# HELP x y\n# TYPE x counter\n", ctText, "no samples"},
		{"bad value", "kvbm_offload_blocks_d2h twelve\n", ctText, "parse"},
		{"openmetrics without EOF", "# TYPE a gauge\na 1\n", ctOM, "EOF"},
		{"duplicate type line", "# TYPE a gauge\n# TYPE a counter\na 1\n", ctText, "parse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseExposition([]byte(tc.body), tc.contentType)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("parseExposition(%q) error %v; want one containing %q", tc.body, err, tc.want)
			}
		})
	}
}

func TestCanonicalLabels(t *testing.T) {
	fams, err := parseExposition([]byte("m{z=\"1\",a=\"q\\\"uote\\\\ back\\nline\"} 1\n"), ctText)
	if err != nil {
		t.Fatal(err)
	}
	rows := familyRows(results.MetricSample{}, fams)
	if got, want := rows[0].Labels, `{a="q\"uote\\ back\nline",z="1"}`; got != want {
		t.Errorf("labels %s; want %s", got, want)
	}
	if got := canonicalLabels(nil, "", ""); got != "{}" {
		t.Errorf("no labels: %q; want {}", got)
	}
}

// TestKVBMGenerations checks which families the sampler takes for KVBM's
// and how it names their generations.
func TestKVBMGenerations(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"kvbm_offload_blocks_d2h", true},
		{"kvbm_onboard_blocks_d2d", true},
		{"kvbm_transfer_duration_seconds", true},
		{"dynamo_kvbm_offload_blocks_d2h", true},
		{"dynamo_component_offload_blocks_d2h", true},
		{"dynamo_component_onboard_blocks_h2d", true},
		{"dynamo_component_matched_tokens", true},
		{"dynamo_component_matched_tokens_total", true},
		{"dynamo_component_requests_total", false},
		{"dynamo_frontend_requests_total", false},
		{"trtllm_kv_cache_offload_bytes", false},
		{"kvbmx", false},
	} {
		if got := kvbmGenerations(map[string]bool{tc.name: true}) != ""; got != tc.want {
			t.Errorf("%s counted as KVBM: %v; want %v", tc.name, got, tc.want)
		}
	}
	all := map[string]bool{"kvbm_offload_blocks_d2h": true, "dynamo_component_matched_tokens_total": true, "dynamo_frontend_requests_total": true}
	if got, want := kvbmGenerations(all), results.KVBMGenComponent+","+results.KVBMGenBare; got != want {
		t.Errorf("generations %q; want %q", got, want)
	}
}

func FuzzParseExposition(f *testing.F) {
	for _, rel := range []string{"exposition/dynamo_kvbm.prom", "exposition/legacy_v05.prom", "exposition/openmetrics.txt"} {
		b := readFixture(f, rel)
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Add([]byte("a{le=\"x\"} 1\na_bucket{le=\"1\"} 2\n"), false)
	f.Add([]byte("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum NaN\n"), false)
	f.Add([]byte("# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_count 1\n# EOF\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, om bool) {
		ct := ctText
		if om {
			ct = ctOM
		}
		fams, err := parseExposition(data, ct)
		if err != nil {
			return
		}
		rows := familyRows(results.MetricSample{}, fams)
		if len(rows) == 0 {
			t.Fatalf("parse succeeded with no rows")
		}
		for _, r := range rows {
			if r.Name == "" || !strings.HasPrefix(r.Labels, "{") || !strings.HasSuffix(r.Labels, "}") {
				t.Fatalf("bad row %+v", r)
			}
		}
	})
}

// fixtureServer serves body as the text format.
func fixtureServer(t *testing.T, body []byte, contentType string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func readMetrics(t *testing.T, dir string) []results.MetricSample {
	t.Helper()
	rows, err := results.ReadAll[results.MetricSample](filepath.Join(dir, "metrics.parquet"), results.TableMetrics)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestPromSamplerFaults: endpoints that are down, slow or return garbage
// give one failed-scrape row per scrape; the good endpoint's rows and the
// run go on.
// Note: one run against four fault servers at once, then the checks of
// each.
func TestPromSamplerFaults(t *testing.T) {
	good := fixtureServer(t, readFixture(t, "exposition/dynamo_kvbm.prom"), ctText)
	garbage := fixtureServer(t, []byte("\x00\x01 this is not { an exposition\n"), ctText)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); slow.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downURL := "http://" + ln.Addr().String() + "/metrics"
	ln.Close()
	status := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusServiceUnavailable)
	}))
	t.Cleanup(status.Close)

	s, err := NewPromSampler(PromOptions{
		Targets: []PromTarget{
			{SourceKVBM, good.URL + "/metrics"}, {"down", downURL}, {"slow", slow.URL}, {"garbage", garbage.URL}, {"status", status.URL},
		},
		Interval: 100 * time.Millisecond, Timeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := s.Open(context.Background(), dir, "run1"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s.Mark(results.PhaseWarmup, PointStart)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Mark took %s; want it bounded by the 1s scrape timeout", d)
	}
	time.Sleep(300 * time.Millisecond)
	s.Mark(results.PhaseWarmup, PointEnd)
	rep := s.Close()
	if len(rep.Invalid) != 0 {
		t.Errorf("invalid reasons %v; want none (kvbm metrics present)", rep.Invalid)
	}
	if got := rep.Tables[results.TableMetrics].Rows; got == 0 {
		t.Errorf("manifest rows of metrics = 0")
	}

	rows := readMetrics(t, dir)
	type key struct{ source, point string }
	ok, failed := map[key]int{}, map[key]int{}
	for _, r := range rows {
		if r.RunID != "run1" || r.Phase != results.PhaseWarmup {
			t.Fatalf("row %+v: want run1/warmup", r)
		}
		k := key{r.Source, r.Point}
		if r.ScrapeError != "" {
			if r.Name != "" || r.Labels != "" {
				t.Errorf("failed-scrape row %+v has a name or labels", r)
			}
			failed[k]++
		} else {
			ok[k]++
		}
	}
	for _, point := range []string{PointStart, PointEnd} {
		if got := ok[key{SourceKVBM, point}]; got != 29 {
			t.Errorf("kvbm %s: %d rows; want 29", point, got)
		}
		for _, src := range []string{"down", "slow", "garbage", "status"} {
			if got := failed[key{src, point}]; got != 1 {
				t.Errorf("%s %s: %d failed-scrape rows; want exactly 1", src, point, got)
			}
			if got := ok[key{src, point}]; got != 0 {
				t.Errorf("%s %s: %d sample rows; want 0", src, point, got)
			}
		}
	}
	if ok[key{SourceKVBM, PointInterval}] == 0 {
		t.Errorf("no interval rows from kvbm; want scrapes every 100ms")
	}
	errFor := func(src string) string {
		for _, r := range rows {
			if r.Source == src && r.ScrapeError != "" {
				return r.ScrapeError
			}
		}
		return ""
	}
	for src, want := range map[string]string{"down": "refused", "slow": "timed out", "garbage": "parse", "status": "503"} {
		if got := errFor(src); !strings.Contains(got, want) {
			t.Errorf("%s scrape error %q; want it to mention %q", src, got, want)
		}
	}
	facts := rep.Facts["metrics_sources"].(map[string]any)
	kv := facts[SourceKVBM].(map[string]any)
	if kv["scrapes_failed"] != 0 || kv["scrapes_ok"].(int) < 3 {
		t.Errorf("kvbm facts %v; want >= 3 ok, 0 failed", kv)
	}
	if d := facts["down"].(map[string]any); d["scrapes_ok"] != 0 || d["scrapes_failed"].(int) < 2 {
		t.Errorf("down facts %v; want 0 ok, >= 2 failed", d)
	}
	if rep.Facts["kvbm_metrics_generation"] != "kvbm" {
		t.Errorf("kvbm_metrics_generation %v; want kvbm", rep.Facts["kvbm_metrics_generation"])
	}
}

func TestPromSamplerKVBMValidity(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downURL := "http://" + ln.Addr().String() + "/metrics"
	ln.Close()
	for _, tc := range []struct {
		name       string
		fixture    string // "" = endpoint down
		allow      bool
		wantGen    string
		wantValid  bool
		wantWarned bool
	}{
		{"bare kvbm_*", "exposition/dynamo_kvbm.prom", false, "kvbm", true, false},
		{"legacy dynamo_component_*", "exposition/legacy_v05.prom", false, "dynamo_component", true, false},
		{"openmetrics kvbm", "exposition/openmetrics.txt", false, "kvbm", true, false},
		{"no kvbm families", "exposition/no_kvbm.prom", false, "", false, false},
		{"no kvbm families, allowed", "exposition/no_kvbm.prom", true, "", true, true},
		{"kvbm endpoint down", "", false, "", false, false},
		{"kvbm endpoint down, allowed", "", true, "", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := downURL
			if tc.fixture != "" {
				ct := ctText
				if strings.HasSuffix(tc.fixture, "openmetrics.txt") {
					ct = ctOM
				}
				url = fixtureServer(t, readFixture(t, tc.fixture), ct).URL
			}
			s, err := NewPromSampler(PromOptions{Targets: []PromTarget{{SourceKVBM, url}}, AllowMissingKVBM: tc.allow, Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Open(context.Background(), t.TempDir(), "r"); err != nil {
				t.Fatal(err)
			}
			s.Mark(results.PhaseMeasure, PointStart)
			s.Mark(results.PhaseMeasure, PointEnd)
			rep := s.Close()
			if valid := len(rep.Invalid) == 0; valid != tc.wantValid {
				t.Errorf("valid = %v (invalid %v); want %v", valid, rep.Invalid, tc.wantValid)
			}
			warned := false
			for _, w := range rep.Warnings {
				warned = warned || strings.Contains(w, "no KVBM metrics")
			}
			if warned != tc.wantWarned {
				t.Errorf("missing-KVBM warning = %v (%v); want %v", warned, rep.Warnings, tc.wantWarned)
			}
			if got, _ := rep.Facts["kvbm_metrics_generation"].(string); got != tc.wantGen {
				t.Errorf("generation %q; want %q", got, tc.wantGen)
			}
		})
	}
}

func TestPromSnapshots(t *testing.T) {
	body := readFixture(t, "exposition/dynamo_kvbm.prom")
	srv := fixtureServer(t, body, ctText)
	small := fixtureServer(t, readFixture(t, "exposition/legacy_v05.prom"), ctText)
	s, err := NewPromSampler(PromOptions{
		Targets:  []PromTarget{{SourceFrontend, srv.URL}, {"legacy", small.URL}},
		Snapshot: true, SnapshotMaxBytes: int64(len(body)), Interval: 0,
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := s.Open(context.Background(), dir, "r"); err != nil {
		t.Fatal(err)
	}
	s.Mark(results.PhasePopulate, PointStart)
	s.Mark(results.PhasePopulate, PointEnd)
	s.Mark(results.PhasePopulate, PointStart) // a repeated phase name keeps both snapshots
	rep := s.Close()
	stem := "metrics_frontend_" + results.PhasePopulate
	for _, name := range []string{stem + "_start.prom", stem + "_end.prom", stem + "_start_2.prom"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("snapshot %s: %v", name, err)
		}
		if diff := cmp.Diff(string(body), string(got)); diff != "" {
			t.Errorf("snapshot %s differs from the served text (-want +got):\n%s", name, diff)
		}
	}
	inv, err := os.ReadFile(filepath.Join(dir, "metrics_frontend_inventory.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"name": "dynamo_frontend_time_to_first_token_seconds"`, `"type": "histogram"`, `"{model}"`, `"{endpoint,error_type,model,request_type,status}"`} {
		if !strings.Contains(string(inv), want) {
			t.Errorf("inventory lacks %s:\n%s", want, inv)
		}
	}
	if len(rep.Warnings) != 0 {
		t.Errorf("warnings %v; want none", rep.Warnings)
	}

	// A cap below the body size cuts the file and says so.
	s2, _ := NewPromSampler(PromOptions{Targets: []PromTarget{{SourceFrontend, srv.URL}}, Snapshot: true, SnapshotMaxBytes: 100})
	dir2 := t.TempDir()
	if err := s2.Open(context.Background(), dir2, "r"); err != nil {
		t.Fatal(err)
	}
	s2.Mark("p", PointStart)
	rep2 := s2.Close()
	got, _ := os.ReadFile(filepath.Join(dir2, "metrics_frontend_p_start.prom"))
	if len(got) != 100 || len(rep2.Warnings) != 1 || !strings.Contains(rep2.Warnings[0], "cut at 100 bytes") {
		t.Errorf("capped snapshot: %d bytes, warnings %v; want 100 bytes and one cut warning", len(got), rep2.Warnings)
	}
}

func TestNewPromSamplerRejects(t *testing.T) {
	for _, tc := range []struct {
		name    string
		targets []PromTarget
	}{
		{"path in source", []PromTarget{{"../x", "http://a/metrics"}}},
		{"upper case", []PromTarget{{"KVBM", "http://a/metrics"}}},
		{"duplicate", []PromTarget{{"a", "http://a/metrics"}, {"a", "http://b/metrics"}}},
		{"not http", []PromTarget{{"a", "file:///etc/passwd"}}},
	} {
		if _, err := NewPromSampler(PromOptions{Targets: tc.targets}); err == nil {
			t.Errorf("%s: NewPromSampler accepted %v", tc.name, tc.targets)
		}
	}
}

func BenchmarkParseExposition(b *testing.B) {
	for _, tc := range []struct{ name, file, ct string }{
		{"text", "exposition/dynamo_kvbm.prom", ctText},
		{"openmetrics", "exposition/openmetrics.txt", ctOM},
	} {
		body := readFixture(b, tc.file)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				fams, err := parseExposition(body, tc.ct)
				if err != nil {
					b.Fatal(err)
				}
				familyRows(results.MetricSample{}, fams)
			}
		})
	}
}

func TestInventory(t *testing.T) {
	srv := fixtureServer(t, readFixture(t, "exposition/dynamo_kvbm.prom"), "text/plain; version=0.0.4")
	fams, err := Inventory(context.Background(), srv.URL+"/metrics", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Family{}
	for _, f := range fams {
		byName[f.Name] = f
	}
	ttft := byName["dynamo_frontend_time_to_first_token_seconds"]
	if ttft.Type != "histogram" || len(ttft.Labels) != 1 || ttft.Labels[0] != "model" || ttft.IsKVBM() {
		t.Errorf("ttft family %+v", ttft)
	}
	if f := byName["kvbm_onboard_blocks_d2d"]; f.Type != "counter" || !f.IsKVBM() {
		t.Errorf("kvbm family missing: %v", fams)
	}
}

// TestPromSamplerInterrupt checks that cancelling the run's context (Ctrl-C)
// cuts a scrape in flight short instead of waiting for its timeout, and
// that the cut scrape is not blamed on the endpoint.
func TestPromSamplerInterrupt(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	s, err := NewPromSampler(PromOptions{Targets: []PromTarget{{SourceSystem, srv.URL}}, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.Open(ctx, t.TempDir(), "r"); err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	s.Mark(results.PhaseMeasure, PointEnd)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("scrape took %v after the interrupt; want it cut short", d)
	}
	rep := s.Close()
	if len(rep.Warnings) != 0 {
		t.Errorf("warnings %v; want none for a scrape cut short by an interrupt", rep.Warnings)
	}
}
