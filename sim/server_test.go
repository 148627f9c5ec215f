package sim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestModels(t *testing.T) {
	srv := startServer(t, testConfig(t, KVModeCPUOnly))
	resp, err := http.Get("http://" + srv.Addrs().API + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Object string `json:"object"`
		Data   []struct {
			ID      string `json:"id"`
			Object  string `json:"object"`
			Created int64  `json:"created"`
			OwnedBy string `json:"owned_by"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.Object != "list" || len(got.Data) != 1 || got.Data[0].ID != DefaultModel ||
		got.Data[0].Object != "model" || got.Data[0].OwnedBy != "nvidia" || got.Data[0].Created == 0 {
		t.Errorf("GET /v1/models = %+v", got)
	}
	for _, path := range []string{"/health", "/live"} {
		r, err := http.Get("http://" + srv.Addrs().API + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != 200 || string(b) != `{"status":"healthy"}` {
			t.Errorf("GET %s = %d %s", path, r.StatusCode, b)
		}
	}
}

func TestCompletionNonStream(t *testing.T) {
	srv := startServer(t, testConfig(t, KVModeCPUOnly))
	prompt := words("w", 70) // 2 full blocks + 6 tokens
	req := map[string]any{"model": DefaultModel, "prompt": prompt, "max_tokens": 5, "temperature": 0, "seed": 42, "stop": []string{"x"}}
	var texts []string
	for i, wantCached := range []int{0, 64} {
		code, body := post(t, http.DefaultClient, srv.Addrs().API, req)
		if code != 200 {
			t.Fatalf("request %d: status %d: %s", i, code, body)
		}
		var got completionResponse
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("request %d: %v: %s", i, err, body)
		}
		if !strings.HasPrefix(got.ID, "cmpl-") || got.Object != "text_completion" || got.Model != DefaultModel || got.Created == 0 {
			t.Errorf("request %d: header fields %+v", i, got)
		}
		if len(got.Choices) != 1 || got.Choices[0].FinishReason == nil || *got.Choices[0].FinishReason != "length" {
			t.Fatalf("request %d: choices %+v", i, got.Choices)
		}
		if n := len(strings.Fields(got.Choices[0].Text)); n != 5 {
			t.Errorf("request %d: text %q has %d words; want 5", i, got.Choices[0].Text, n)
		}
		texts = append(texts, got.Choices[0].Text)
		if got.Usage == nil {
			t.Fatalf("request %d: no usage", i)
		}
		u := got.Usage
		if u.PromptTokens != 70 || u.CompletionTokens != 5 || u.TotalTokens != 75 || u.PromptTokensDetails.CachedTokens != wantCached {
			t.Errorf("request %d: usage %+v; want 70/5/75 cached %d", i, *u, wantCached)
		}
	}
	if texts[0] != texts[1] {
		t.Errorf("same prompt gave %q then %q; want deterministic text", texts[0], texts[1])
	}
}

func TestCompletionStream(t *testing.T) {
	for _, tc := range []struct {
		name  string
		usage bool
	}{{"without usage", false}, {"with usage", true}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, testConfig(t, KVModeCPUOnly))
			req := map[string]any{"model": DefaultModel, "prompt": words("s", 40), "max_tokens": 4, "stream": true}
			if tc.usage {
				req["stream_options"] = map[string]bool{"include_usage": true}
			}
			code, body := post(t, http.DefaultClient, srv.Addrs().API, req)
			if code != 200 {
				t.Fatalf("status %d: %s", code, body)
			}
			events := sseEvents(body)
			var kinds []string
			ids := map[string]bool{}
			for _, ev := range events {
				if len(ev) != 1 || !strings.HasPrefix(ev[0], "data: ") {
					t.Fatalf("event %q: want one data line", ev)
				}
				data := strings.TrimPrefix(ev[0], "data: ")
				if data == "[DONE]" {
					kinds = append(kinds, "done")
					continue
				}
				var c completionResponse
				if err := json.Unmarshal([]byte(data), &c); err != nil {
					t.Fatalf("chunk %q: %v", data, err)
				}
				ids[c.ID] = true
				switch {
				case len(c.Choices) == 1 && c.Choices[0].Text != "" && c.Usage == nil:
					fr := "null"
					if c.Choices[0].FinishReason != nil {
						fr = *c.Choices[0].FinishReason
					}
					kinds = append(kinds, "token:"+fr)
				case len(c.Choices) == 0 && c.Usage != nil:
					kinds = append(kinds, "usage")
					if c.Usage.PromptTokens != 40 || c.Usage.CompletionTokens != 4 || c.Usage.TotalTokens != 44 || c.Usage.PromptTokensDetails.CachedTokens != 0 {
						t.Errorf("usage %+v; want 40/4/44/0", *c.Usage)
					}
				default:
					t.Errorf("unexpected chunk %s", data)
				}
			}
			want := []string{"token:null", "token:null", "token:null", "token:length"}
			if tc.usage {
				want = append(want, "usage")
			}
			want = append(want, "done")
			if diff := cmp.Diff(want, kinds); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if len(ids) != 1 {
				t.Errorf("chunk ids %v; want one id", ids)
			}
		})
	}
}

func TestCompletionErrors(t *testing.T) {
	srv := startServer(t, testConfig(t, KVModeCPUOnly))
	long := words("l", 8190)
	for _, tc := range []struct {
		name     string
		body     string
		wantCode int
		wantMsg  string // substring
	}{
		{"unknown model", `{"model":"nope","prompt":"a b"}`, 404, "Model not found"},
		{"stream_options without stream", `{"model":"kvbench/sim-8b","prompt":"a b","stream_options":{"include_usage":true}}`, 400, "`stream_options` can only be used when `stream` is True"},
		{"too long", `{"model":"kvbench/sim-8b","prompt":"` + long + `","max_tokens":3}`, 400, "The sum of prompt length (8190), query length (0) and max_tokens (3) should not exceed max_num_tokens (8192)"},
		{"bad json", `{"model":`, 400, "JSON"},
		{"prompt array", `{"model":"kvbench/sim-8b","prompt":["a"]}`, 400, "prompt"},
		{"empty prompt", `{"model":"kvbench/sim-8b","prompt":"   "}`, 400, "prompt"},
		{"zero max_tokens", `{"model":"kvbench/sim-8b","prompt":"a","max_tokens":0}`, 400, "max_tokens"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post("http://"+srv.Addrs().API+"/v1/completions", "application/json", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got struct {
				Message string `json:"message"`
				Type    string `json:"type"`
				Code    int    `json:"code"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatalf("decode error body: %v", err)
			}
			if resp.StatusCode != tc.wantCode || got.Code != tc.wantCode || got.Type != http.StatusText(tc.wantCode) || !strings.Contains(got.Message, tc.wantMsg) {
				t.Errorf("status %d body %+v; want %d with message containing %q", resp.StatusCode, got, tc.wantCode, tc.wantMsg)
			}
		})
	}
	// Each error is counted with its error type.
	fam := scrape(t, "http://"+srv.Addrs().API+"/metrics")
	got := map[string]float64{}
	for _, m := range fam["dynamo_frontend_requests_total"].GetMetric() {
		lbl := map[string]string{}
		for _, lp := range m.GetLabel() {
			lbl[lp.GetName()] = lp.GetValue()
		}
		got[lbl["error_type"]+"/"+lbl["status"]] += m.GetCounter().GetValue()
	}
	if diff := cmp.Diff(map[string]float64{"not_found/error": 1, "validation/error": 6}, got); diff != "" {
		t.Errorf("requests_total by error_type/status (-want +got):\n%s", diff)
	}
}

func TestFaults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults Faults
		stream bool
		check  func(t *testing.T, code int, body []byte, readErr error, elapsed time.Duration)
	}{
		{"429", Faults{HTTP429: 1}, true, wantCode(429)},
		{"500", Faults{HTTP500: 1}, false, wantCode(500)},
		{"503", Faults{HTTP503: 1}, true, wantCode(503)},
		{"reset stream", Faults{Reset: 1}, true, func(t *testing.T, code int, body []byte, readErr error, _ time.Duration) {
			if readErr == nil || bytes.Contains(body, []byte("[DONE]")) {
				t.Errorf("read error %v, body %q; want a reset before [DONE]", readErr, body)
			}
		}},
		{"reset unary", Faults{Reset: 1}, false, func(t *testing.T, code int, body []byte, readErr error, _ time.Duration) {
			if readErr == nil {
				t.Errorf("got status %d body %q; want a connection error", code, body)
			}
		}},
		{"stall stream", Faults{Stall: 1, StallFor: 50 * time.Millisecond}, true, func(t *testing.T, code int, body []byte, readErr error, elapsed time.Duration) {
			if code != 200 || bytes.Contains(body, []byte("[DONE]")) || !bytes.Contains(body, []byte(`"text"`)) || elapsed < 50*time.Millisecond {
				t.Errorf("status %d after %v, body %q; want some tokens, a 50ms stall and no [DONE]", code, elapsed, body)
			}
		}},
		{"malformed sse", Faults{MalformedSSE: 1}, true, func(t *testing.T, code int, body []byte, readErr error, _ time.Duration) {
			bad := 0
			for _, ev := range sseEvents(body) {
				d := strings.TrimPrefix(ev[0], "data: ")
				if d != "[DONE]" && !json.Valid([]byte(d)) {
					bad++
				}
			}
			if bad != 1 || !bytes.HasSuffix(body, []byte("data: [DONE]\n\n")) {
				t.Errorf("%d malformed events in %q; want 1 and a final [DONE]", bad, body)
			}
		}},
		{"sse error", Faults{SSEError: 1}, true, func(t *testing.T, code int, body []byte, readErr error, _ time.Duration) {
			if !bytes.Contains(body, []byte("event: error\n: ")) || bytes.Contains(body, []byte("[DONE]")) {
				t.Errorf("body %q; want event: error with a comment line and no [DONE]", body)
			}
		}},
		{"slow first byte", Faults{SlowFirstByte: 1, SlowFirstByteDelay: 80 * time.Millisecond}, false, func(t *testing.T, code int, body []byte, readErr error, elapsed time.Duration) {
			if code != 200 || elapsed < 80*time.Millisecond || !json.Valid(body) {
				t.Errorf("status %d after %v; want 200 after at least 80ms", code, elapsed)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, KVModeCPUOnly)
			cfg.Faults = tc.faults
			gt := &syncBuffer{}
			cfg.GroundTruth = gt
			srv := startServer(t, cfg)
			b, _ := json.Marshal(map[string]any{"model": DefaultModel, "prompt": words("f", 10), "max_tokens": 6, "stream": tc.stream})
			start := time.Now()
			client := &http.Client{Transport: &http.Transport{}}
			resp, err := client.Post("http://"+srv.Addrs().API+"/v1/completions", "application/json", bytes.NewReader(b))
			var code int
			var body []byte
			readErr := err
			if err == nil {
				code = resp.StatusCode
				body, readErr = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			tc.check(t, code, body, readErr, time.Since(start))
			stopServer(t, srv)
			var rec GroundTruth
			if err := json.Unmarshal([]byte(strings.TrimSpace(gt.String())), &rec); err != nil {
				t.Fatalf("ground truth %q: %v", gt.String(), err)
			}
			if rec.Fault == FaultNone {
				t.Errorf("ground truth fault is empty; want the injected fault")
			}
		})
	}
}

func wantCode(want int) func(t *testing.T, code int, body []byte, readErr error, _ time.Duration) {
	return func(t *testing.T, code int, body []byte, readErr error, _ time.Duration) {
		if code != want || !json.Valid(body) {
			t.Errorf("status %d body %q; want %d with a JSON error body", code, body, want)
		}
	}
}

func TestKVBMScrapeFaults(t *testing.T) {
	t.Run("down for good", func(t *testing.T) {
		cfg := testConfig(t, KVModeCPUOnly)
		cfg.Faults.KVBMDown = 1
		srv := startServer(t, cfg)
		if a := srv.Addrs().KVBM; a != "" {
			t.Errorf("KVBM address %q; want none", a)
		}
	})
	t.Run("closed connection", func(t *testing.T) {
		cfg := testConfig(t, KVModeCPUOnly)
		cfg.Faults.KVBMDown = 0.999999
		srv := startServer(t, cfg)
		if _, err := http.Get("http://" + srv.Addrs().KVBM + "/metrics"); err == nil {
			t.Errorf("scrape succeeded; want a connection error")
		}
	})
	t.Run("garbage", func(t *testing.T) {
		cfg := testConfig(t, KVModeCPUOnly)
		cfg.Faults.KVBMGarbage = 1
		srv := startServer(t, cfg)
		resp, err := http.Get("http://" + srv.Addrs().KVBM + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		p := expfmt.NewTextParser(model.UTF8Validation)
		if _, err := p.TextToMetricFamilies(resp.Body); err == nil {
			t.Errorf("garbage scrape parsed; want a parse error")
		}
	})
}

// runPrompts sends each prompt once, in order, non-stream.
func runPrompts(t *testing.T, srv *Server, prompts []string) {
	t.Helper()
	for _, p := range prompts {
		code, body := post(t, http.DefaultClient, srv.Addrs().API, map[string]any{"model": DefaultModel, "prompt": p, "max_tokens": 2})
		if code != 200 {
			t.Fatalf("status %d: %s", code, body)
		}
	}
}

// TestPopulateThrashReplay checks the B1/B2 story end to end: a working set
// seen twice, then thrashed out of G1 and G2, comes back from disk in
// cpu_disk mode and is recomputed in cpu_only mode.
func TestPopulateThrashReplay(t *testing.T) {
	var working, thrash []string
	for i := 0; i < 4; i++ {
		working = append(working, words("work"+letter(i)+"_", 64)) // 2 blocks each
	}
	for i := 0; i < 16; i++ {
		thrash = append(thrash, words("thrash"+letter(i)+"_", 64))
	}
	for _, tc := range []struct {
		mode                 KVMode
		wantD2D, wantH2D     float64 // during replay
		wantG3, wantRecomp   int     // per replayed request
		wantFilesRead        uint64
		wantOffloadH2DPhase1 float64 // host→disk after populate
	}{
		{KVModeCPUDisk, 8, 0, 2, 0, 8, 8},
		{KVModeCPUOnly, 0, 0, 0, 2, 0, 0},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			cfg := testConfig(t, tc.mode)
			cfg.GPUBlocks, cfg.CPUBlocks, cfg.DiskBlocks = 4, 8, 64
			gt := &syncBuffer{}
			cfg.GroundTruth = gt
			srv := startServer(t, cfg)
			kvbm := "http://" + srv.Addrs().KVBM + "/metrics"

			runPrompts(t, srv, working) // computed: d2h
			runPrompts(t, srv, working) // seen twice: host→disk in cpu_disk
			if got := kvbmValue(t, kvbm, "kvbm_offload_blocks_h2d"); got != tc.wantOffloadH2DPhase1 {
				t.Errorf("after populate kvbm_offload_blocks_h2d = %v; want %v", got, tc.wantOffloadH2DPhase1)
			}
			runPrompts(t, srv, thrash)
			before := scrape(t, kvbm)
			runPrompts(t, srv, working)
			after := scrape(t, kvbm)
			delta := func(name string) float64 {
				return after[name].GetMetric()[0].GetCounter().GetValue() - before[name].GetMetric()[0].GetCounter().GetValue()
			}
			if got := delta("kvbm_onboard_blocks_d2d"); got != tc.wantD2D {
				t.Errorf("replay Δkvbm_onboard_blocks_d2d = %v; want %v", got, tc.wantD2D)
			}
			if got := delta("kvbm_onboard_blocks_h2d"); got != tc.wantH2D {
				t.Errorf("replay Δkvbm_onboard_blocks_h2d = %v; want %v", got, tc.wantH2D)
			}
			if got, want := delta("kvbm_matched_tokens"), (tc.wantD2D+tc.wantH2D)*32; got != want {
				t.Errorf("replay Δkvbm_matched_tokens = %v; want %v", got, want)
			}
			var filesRead uint64
			if srv.disk != nil {
				filesRead = srv.disk.reads.Load()
			}
			if filesRead != tc.wantFilesRead {
				t.Errorf("G3 files read = %d; want %d", filesRead, tc.wantFilesRead)
			}
			stopServer(t, srv)
			recs := decodeGT(t, gt.String())
			if len(recs) != 28 {
				t.Fatalf("%d ground-truth records; want 28", len(recs))
			}
			for _, r := range recs[24:] {
				if r.BlocksG3 != tc.wantG3 || r.BlocksRecomputed != tc.wantRecomp || r.BlocksTotal != 2 {
					t.Errorf("replay record %+v; want g3=%d recomputed=%d of 2", r, tc.wantG3, tc.wantRecomp)
				}
			}
		})
	}
}

func letter(i int) string { return string(rune('a' + i)) }

func decodeGT(t *testing.T, s string) []GroundTruth {
	t.Helper()
	var out []GroundTruth
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		var r GroundTruth
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("ground truth line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

func TestGroundTruth(t *testing.T) {
	cfg := testConfig(t, KVModeCPUOnly)
	gt := &syncBuffer{}
	cfg.GroundTruth = gt
	srv := startServer(t, cfg)
	var ids []string
	for i, stream := range []bool{false, true} {
		b, _ := json.Marshal(map[string]any{"model": DefaultModel, "prompt": words("g", 100), "max_tokens": 3, "stream": stream})
		req, _ := http.NewRequest("POST", "http://"+srv.Addrs().API+"/v1/completions", bytes.NewReader(b))
		req.Header.Set("X-Request-Id", "req-"+letter(i))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !stream {
			var c completionResponse
			json.Unmarshal(body, &c)
			ids = append(ids, c.ID)
		} else {
			ev := sseEvents(body)[0]
			var c completionResponse
			json.Unmarshal([]byte(strings.TrimPrefix(ev[0], "data: ")), &c)
			ids = append(ids, c.ID)
		}
	}
	stopServer(t, srv)
	recs := decodeGT(t, gt.String())
	if len(recs) != 2 {
		t.Fatalf("%d records; want 2", len(recs))
	}
	type view struct {
		CompletionID, RequestID                    string
		Prompt, Total, G1, Recomputed, Status, Out int
	}
	var got []view
	for i, r := range recs {
		got = append(got, view{r.CompletionID, r.RequestID, r.PromptTokens, r.BlocksTotal, r.BlocksG1, r.BlocksRecomputed, r.Status, r.OutputTokens})
		if !(r.ReceivedUnixNs > 0 && r.ReceivedUnixNs <= r.FirstTokenUnixNs && r.FirstTokenUnixNs <= r.DoneUnixNs) {
			t.Errorf("record %d stamps received %d first %d done %d; want ordered", i, r.ReceivedUnixNs, r.FirstTokenUnixNs, r.DoneUnixNs)
		}
	}
	want := []view{
		{ids[0], "req-a", 100, 3, 0, 3, 200, 3},
		{ids[1], "req-b", 100, 3, 3, 0, 200, 3},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ground truth (-want +got):\n%s", diff)
	}
}

// TestTiming checks the cost model reaches the wire: TTFT follows uncached
// tokens, and a full batch makes the next request queue.
func TestTiming(t *testing.T) {
	cfg := testConfig(t, KVModeCPUOnly)
	cfg.Costs = Costs{PrefillPerToken: 500 * time.Microsecond, DecodePerToken: 20 * time.Millisecond}
	cfg.MaxBatch = 1
	srv := startServer(t, cfg)
	req := map[string]any{"model": DefaultModel, "prompt": words("t", 128), "max_tokens": 1}
	measure := func() time.Duration {
		start := time.Now()
		if code, body := post(t, http.DefaultClient, srv.Addrs().API, req); code != 200 {
			t.Fatalf("status %d: %s", code, body)
		}
		return time.Since(start)
	}
	cold := measure() // 128 tokens × 500µs = 64ms
	warm := measure() // all 4 blocks in G1: no prefill
	if cold < 60*time.Millisecond || warm+30*time.Millisecond > cold {
		t.Errorf("cold %v, warm %v; want cold ≥ 60ms and warm at least 30ms faster", cold, warm)
	}

	// Two concurrent 4-token requests with one batch slot: the second waits
	// for the first's decode (3 × 20ms).
	long := map[string]any{"model": DefaultModel, "prompt": words("q", 4), "max_tokens": 4}
	done := make(chan time.Duration, 2)
	for i := 0; i < 2; i++ {
		go func() {
			start := time.Now()
			post(t, http.DefaultClient, srv.Addrs().API, long)
			done <- time.Since(start)
		}()
	}
	a, b := <-done, <-done
	if b < 110*time.Millisecond {
		t.Errorf("latencies %v and %v with max batch 1; want the second ≥ 110ms", a, b)
	}
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return fams
}

func kvbmValue(t *testing.T, url, name string) float64 {
	t.Helper()
	f, ok := scrape(t, url)[name]
	if !ok {
		t.Fatalf("%s: no family %s", url, name)
	}
	m := f.GetMetric()[0]
	if m.GetCounter() != nil {
		return m.GetCounter().GetValue()
	}
	return m.GetGauge().GetValue()
}

// TestShutdownCancelsStalledStream checks a stream stalled forever does not
// hold up shutdown, and its record says the request was cut short.
func TestShutdownCancelsStalledStream(t *testing.T) {
	cfg := testConfig(t, KVModeCPUOnly)
	cfg.Faults.Stall = 1
	gt := &syncBuffer{}
	cfg.GroundTruth = gt
	srv := startServer(t, cfg)
	b, _ := json.Marshal(map[string]any{"model": DefaultModel, "prompt": "a b c", "max_tokens": 8, "stream": true})
	resp, err := http.Post("http://"+srv.Addrs().API+"/v1/completions", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(first, "data: {") {
		t.Fatalf("first line %q, %v; want a token chunk before the stall", first, err)
	}
	start := time.Now()
	stopServer(t, srv)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("shutdown took %v with a stalled stream; want it prompt", d)
	}
	recs := decodeGT(t, gt.String())
	if len(recs) != 1 || recs[0].Status != 499 || recs[0].Fault != FaultStall || recs[0].OutputTokens != 4 {
		t.Errorf("ground truth %+v; want one stall record with status 499 after 4 tokens", recs)
	}
}

func TestPromptTokens(t *testing.T) {
	srv := startServer(t, testConfig(t, KVModeOff))
	for _, tc := range []struct {
		name, promptJSON string
		want             int
	}{
		{"plain", `"one two  three"`, 3},
		{"escaped whitespace", `"one\ttwo\nthree\u00a0four"`, 4},
		{"unicode", `"é ü 日本"`, 3},
		{"escaped quote", `"say \"hi\" now"`, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post("http://"+srv.Addrs().API+"/v1/completions", "application/json",
				strings.NewReader(`{"model":"kvbench/sim-8b","max_tokens":1,"prompt":`+tc.promptJSON+`}`))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var c completionResponse
			if err := json.NewDecoder(resp.Body).Decode(&c); err != nil || c.Usage == nil {
				t.Fatalf("status %d: %v", resp.StatusCode, err)
			}
			if c.Usage.PromptTokens != tc.want {
				t.Errorf("prompt %s: prompt_tokens = %d; want %d", tc.promptJSON, c.Usage.PromptTokens, tc.want)
			}
		})
	}
}
