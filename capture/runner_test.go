package capture

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kvbench/results"
)

// fakeServer answers /v1/models and streams a short completion whose usage
// counts one token per prompt word, like the simulator.
func fakeServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/models", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"object":"list","data":[{"id":"m1","object":"model"}]}`)
	})
	mux.HandleFunc("/v1/completions", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		words := strings.Count(string(body), " ") // close to the prompt's words
		if !strings.Contains(string(body), `"stream":true`) {
			fmt.Fprintf(w, `{"id":"c","choices":[{"text":"a"}],"usage":{"prompt_tokens":%d,"completion_tokens":1}}`, words)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "data: {\"id\":\"c\",\"choices\":[{\"text\":\"a\"}]}\n\n")
		fmt.Fprintf(w, "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":1}}\n\ndata: [DONE]\n\n", words)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestRunOpenLoop(t *testing.T) {
	srv := fakeServer(t)
	dir := t.TempDir()
	cfg := &Config{BaseURL: srv.URL, TierMode: "B1", Scenario: "standard", PromptSet: "short", LongRange: Range{100, 200},
		Requests: 60, Warmup: 0, Concurrency: 8, MaxTokens: 4, TopP: 1, RequestSeed: 9, Stream: true,
		Calibrate: true, RequestRate: 200, Burstiness: 1, MaxScheduleLag: 100 * time.Millisecond, MaxErrorRate: 0.05,
		RunID: "ol", ResultsDir: dir, ModelResolveTimeout: time.Second}
	out, err := Run(context.Background(), cfg, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Manifest.Valid || out.Manifest.Model != "m1" {
		t.Fatalf("manifest valid=%v reasons=%v model=%q", out.Manifest.Valid, out.Manifest.InvalidReasons, out.Manifest.Model)
	}
	sched, err := results.ReadAll[results.ScheduleRow](filepath.Join(dir, "ol", "schedule.parquet"), results.TableSchedule)
	if err != nil || len(sched) != 60 {
		t.Fatalf("schedule: %d rows, %v", len(sched), err)
	}
	reqs, _ := results.ReadAll[results.Request](filepath.Join(dir, "ol", "requests.parquet"), results.TableRequests)
	var first int64
	for _, r := range reqs {
		if r.RequestIndex == 0 {
			first = r.ScheduledUnixNs
		}
	}
	for _, r := range reqs {
		want := first + sched[r.RequestIndex].OffsetNs
		if d := r.ScheduledUnixNs - want; d < -int64(time.Millisecond) || d > int64(time.Millisecond) {
			t.Errorf("request %d scheduled %v off its plan", r.RequestIndex, time.Duration(d))
		}
		if lag := r.StartUnixNs - r.ScheduledUnixNs; lag < 0 || lag > int64(50*time.Millisecond) {
			t.Errorf("request %d schedule lag %v", r.RequestIndex, time.Duration(lag))
		}
	}
	last := sched[len(sched)-1].OffsetNs
	if span := time.Duration(last); span < 150*time.Millisecond || span > 600*time.Millisecond {
		t.Errorf("60 requests at 200/s span %v; want about 300ms", span)
	}
	prompts, _ := results.ReadAll[results.PromptRow](filepath.Join(dir, "ol", "prompts.parquet"), results.TablePrompts)
	if len(prompts) != 60 || prompts[0].MeasuredTokens == nil {
		t.Fatalf("prompts table: %d rows", len(prompts))
	}
	if cal := out.Manifest.Calibration; cal == nil || cal.Method != "usage_probe" || cal.MaxRelError == nil || *cal.MaxRelError > 0.02 {
		t.Errorf("calibration %+v", cal)
	}
}

func TestRunPreflight(t *testing.T) {
	srv := fakeServer(t)
	for _, allow := range []bool{false, true} {
		dir := t.TempDir()
		cfg := &Config{BaseURL: srv.URL, TierMode: "B2", Scenario: "standard", PromptSet: "long", LongRange: Range{900, 1000},
			Requests: 5, Concurrency: 2, MaxTokens: 200, TopP: 1, MaxNumTokens: 1000, AllowPreflightSkip: allow, MaxErrorRate: 0.05,
			RunID: "pf", ResultsDir: dir, ModelResolveTimeout: time.Second}
		out, err := Run(context.Background(), cfg, io.Discard, nil)
		if err != nil {
			t.Fatal(err)
		}
		reqs, _ := results.ReadAll[results.Request](filepath.Join(dir, "pf", "requests.parquet"), results.TableRequests)
		for _, r := range reqs {
			if r.ErrorKind != results.ErrPreflight || r.StatusCode != 0 {
				t.Errorf("request %d: %s (status %d); want preflight, never sent", r.RequestIndex, r.ErrorKind, r.StatusCode)
			}
		}
		if out.Manifest.Valid != allow {
			t.Errorf("allow=%v: valid=%v reasons=%v warnings=%v", allow, out.Manifest.Valid, out.Manifest.InvalidReasons, out.Manifest.Warnings)
		}
	}
}
