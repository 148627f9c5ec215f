package sim

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"
)

// FuzzCompletions feeds arbitrary bodies to POST /v1/completions, with
// every fault possible: the handler must never panic, must answer with a
// known status, and error bodies must be JSON.
func FuzzCompletions(f *testing.F) {
	for _, seed := range []string{
		`{"model":"kvbench/sim-8b","prompt":"a b c","max_tokens":3}`,
		`{"model":"kvbench/sim-8b","prompt":"a b c","max_tokens":3,"stream":true,"stream_options":{"include_usage":true}}`,
		`{"model":"kvbench/sim-8b","prompt":"` + words("x", 70) + `","max_tokens":1}`,
		`{"model":"kvbench/sim-8b","prompt":null}`,
		`{"model":"kvbench/sim-8b","prompt":"a","max_tokens":-5}`,
		`{"model":"kvbench/sim-8b","prompt":"a","max_tokens":99999999999}`,
		`{"model":"kvbench/sim-8b","prompt":"\u00e9\u2003\ud800 x","stream_options":null}`,
		`[]`, `null`, ``, `{"model":1}`,
	} {
		f.Add([]byte(seed))
	}
	cfg := testConfig(f, KVModeCPUDisk)
	cfg.GPUBlocks, cfg.CPUBlocks, cfg.DiskBlocks = 2, 2, 4
	cfg.DisableDiskFilter = true
	cfg.Faults = Faults{HTTP429: 0.05, Reset: 0.05, Stall: 0.05, MalformedSSE: 0.05, SSEError: 0.05,
		SlowFirstByte: 0.05, StallFor: time.Millisecond, SlowFirstByteDelay: time.Millisecond}
	srv := startServer(f, cfg)
	mux := srv.apiMux()
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/completions", bytes.NewReader(body)))
		switch rec.Code {
		case 200, 400, 404, 413, 429, 500, 503:
		default:
			t.Fatalf("status %d for %q", rec.Code, body)
		}
		if rec.Code >= 400 && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("error body %q is not JSON", rec.Body.Bytes())
		}
	})
}
