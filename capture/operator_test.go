package capture

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func fakeStack(t *testing.T, exposition string, models string) *httptest.Server {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("telemetry", "testdata", "exposition", exposition))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"status":"healthy"}`)) })
	mux.HandleFunc("/v1/models", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(models)) })
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		w.Write(body)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func statusOf(checks []Check, name string) string {
	for _, c := range checks {
		if c.Name == name {
			return c.Status
		}
	}
	return "missing"
}

func TestHealth(t *testing.T) {
	const one = `{"object":"list","data":[{"id":"Qwen/Qwen3-8B","object":"model"}]}`
	good := fakeStack(t, "dynamo_kvbm.prom", one)
	noKVBM := fakeStack(t, "no_kvbm.prom", `{"data":[]}`)
	dir := t.TempDir()
	cases := []struct {
		name  string
		o     HealthOptions
		want  map[string]string
		fails int
	}{
		{"healthy", HealthOptions{BaseURL: good.URL, Model: "Qwen/Qwen3-8B", KVBMURL: good.URL + "/metrics", CacheDir: dir},
			map[string]string{"api health": CheckOK, "model registered": CheckOK, "kvbm metrics": CheckOK, "cache dir writable": CheckOK}, 0},
		{"wrong model", HealthOptions{BaseURL: good.URL, Model: "llama"}, map[string]string{"model registered": CheckFail}, 1},
		{"no kvbm families, no models", HealthOptions{BaseURL: noKVBM.URL, KVBMURL: noKVBM.URL + "/metrics"},
			map[string]string{"kvbm metrics": CheckFail, "model registered": CheckFail}, 2},
		{"allowed missing kvbm", HealthOptions{BaseURL: good.URL, KVBMURL: "http://127.0.0.1:1/metrics", AllowMissingKVBM: true},
			map[string]string{"kvbm metrics": CheckWarn}, 0},
		{"unwritable cache dir", HealthOptions{BaseURL: good.URL, CacheDir: filepath.Join(dir, "missing")},
			map[string]string{"cache dir writable": CheckFail}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.o.Timeout = 2 * time.Second
			checks := Health(context.Background(), c.o)
			fails := 0
			for _, ch := range checks {
				if ch.Required && ch.Status == CheckFail {
					fails++
				}
			}
			for name, want := range c.want {
				if got := statusOf(checks, name); got != want {
					t.Errorf("%s: %s; want %s (%+v)", name, got, want, checks)
				}
			}
			if fails != c.fails {
				t.Errorf("required failures %d; want %d", fails, c.fails)
			}
		})
	}
}
