package capture

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"kvbench/results"
)

func sseHandler(body string, delay time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		for _, part := range strings.SplitAfter(body, "\n\n") {
			time.Sleep(delay)
			fmt.Fprint(w, part)
			w.(http.Flusher).Flush()
		}
	}
}

const goodStream = `data: {"id":"cmpl-9","choices":[{"text":""}],"usage":null}

data: {"id":"cmpl-9","choices":[{"text":"Hello"}],"usage":null}

data: {"id":"cmpl-9","choices":[{"text":" world"}],"usage":null}

data: {"id":"cmpl-9","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":2,"total_tokens":14,"prompt_tokens_details":{"cached_tokens":8}}}

data: [DONE]

`

// TestCompleteKinds checks how every kind of server answer is recorded.
// Note: one table of cases, each a server answer and the record it must
// give; splitting it would only scatter the table.
func TestCompleteKinds(t *testing.T) {
	cases := []struct {
		name      string
		stream    bool
		handler   http.HandlerFunc
		timeout   time.Duration
		wantKind  string
		wantCode  int32
		wantInErr string
		check     func(t *testing.T, r *results.Request)
	}{
		{name: "stream ok", stream: true, handler: sseHandler(goodStream, time.Millisecond), wantCode: 200,
			check: func(t *testing.T, r *results.Request) {
				if r.CompletionID != "cmpl-9" {
					t.Errorf("completion id %q", r.CompletionID)
				}
				if r.PromptTokens == nil || *r.PromptTokens != 12 || *r.OutputTokens != 2 || *r.CachedTokens != 8 {
					t.Errorf("usage not recorded: %v %v %v", r.PromptTokens, r.OutputTokens, r.CachedTokens)
				}
				if r.TTFTNs == nil || r.FirstEventNs == nil || *r.TTFTNs <= *r.FirstEventNs {
					t.Errorf("ttft %v must come after the first (empty) event %v", r.TTFTNs, r.FirstEventNs)
				}
				if *r.TTFTNs >= r.LatencyNs || len(r.ChunkOffsetsNs) != 2 || r.ChunkOffsetsNs[0] != *r.TTFTNs {
					t.Errorf("ttft %d latency %d chunks %v", *r.TTFTNs, r.LatencyNs, r.ChunkOffsetsNs)
				}
				if r.ResponseText != "Hello world" {
					t.Errorf("text %q", r.ResponseText)
				}
			}},
		{name: "unary ok", handler: func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"id":"cmpl-1","choices":[{"text":"hi"}],"usage":{"prompt_tokens":5,"completion_tokens":1}}`)
		}, wantCode: 200, check: func(t *testing.T, r *results.Request) {
			if r.TTFTNs == nil || r.FirstByteNs == nil || *r.TTFTNs != *r.FirstByteNs || r.CompletionID != "cmpl-1" {
				t.Errorf("non-stream ttft must be the first-byte proxy: %v %v", r.TTFTNs, r.FirstByteNs)
			}
		}},
		{name: "http 429", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(429)
			fmt.Fprint(w, `{"error":{"message":"slow down","type":"rate_limit"}}`)
		}, wantKind: results.ErrHTTP, wantCode: 429, wantInErr: "slow down"},
		{name: "missing done", stream: true, handler: sseHandler("data: {\"id\":\"a\",\"choices\":[{\"text\":\"x\"}]}\n\n", 0),
			wantKind: results.ErrConnection, wantCode: 200, wantInErr: "[DONE]"},
		{name: "error event", stream: true, handler: sseHandler("data: {\"id\":\"a\",\"choices\":[{\"text\":\"x\"}]}\n\nevent: error\n: engine died\n\n", 0),
			wantKind: results.ErrServerEvent, wantCode: 200, wantInErr: "engine died"},
		{name: "malformed json", stream: true, handler: sseHandler("data: {\"id\":\"a\",\"choi\n\n", 0),
			wantKind: results.ErrProtocol, wantCode: 200, wantInErr: "malformed"},
		{name: "error object in stream", stream: true, handler: sseHandler("data: {\"error\":{\"message\":\"boom\"}}\n\n", 0),
			wantKind: results.ErrServerEvent, wantCode: 200, wantInErr: "boom"},
		{name: "timeout", stream: true, handler: sseHandler(goodStream, 300*time.Millisecond), timeout: 100 * time.Millisecond,
			wantKind: results.ErrTimeout, wantCode: 200},
		{name: "reset mid-stream", stream: true, handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "data: {\"id\":\"a\",\"choices\":[{\"text\":\"x\"}]}\n\n")
			w.(http.Flusher).Flush()
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
		}, wantKind: results.ErrConnection, wantCode: 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(c.handler)
			defer srv.Close()
			cl := NewClient(ClientOptions{BaseURL: srv.URL, RequestTimeout: c.timeout})
			defer cl.Close()
			var rec results.Request
			req := &CompletionRequest{Model: "m", Prompt: "p", MaxTokens: 2, Stream: c.stream}
			cl.Complete(context.Background(), context.Background(), req, "run-1", true, &rec)
			if rec.ErrorKind != c.wantKind {
				t.Fatalf("kind = %q (%s); want %q", rec.ErrorKind, rec.Error, c.wantKind)
			}
			if rec.StatusCode != c.wantCode {
				t.Errorf("status = %d; want %d", rec.StatusCode, c.wantCode)
			}
			if !strings.Contains(rec.Error, c.wantInErr) {
				t.Errorf("error %q does not contain %q", rec.Error, c.wantInErr)
			}
			if rec.LatencyNs <= 0 {
				t.Errorf("latency not recorded")
			}
			if c.check != nil {
				c.check(t, &rec)
			}
		})
	}
}

func TestCompleteRefusedAndCanceled(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	cl := NewClient(ClientOptions{BaseURL: "http://" + addr})
	var rec results.Request
	cl.Complete(context.Background(), context.Background(), &CompletionRequest{Model: "m"}, "", false, &rec)
	if rec.ErrorKind != results.ErrConnection || !strings.Contains(rec.Error, "refused") {
		t.Errorf("refused: kind %q err %q", rec.ErrorKind, rec.Error)
	}

	srv := httptest.NewServer(sseHandler(goodStream, 200*time.Millisecond))
	defer srv.Close()
	cl = NewClient(ClientOptions{BaseURL: srv.URL})
	runCtx, cancel := context.WithCancel(context.Background())
	sendCtx, cancelSend := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, func() { cancel(); cancelSend() })
	rec = results.Request{}
	cl.Complete(runCtx, sendCtx, &CompletionRequest{Model: "m", Stream: true}, "", false, &rec)
	if rec.ErrorKind != results.ErrCanceled {
		t.Errorf("canceled: kind %q err %q", rec.ErrorKind, rec.Error)
	}
}

func TestRequestHeaders(t *testing.T) {
	var gotID, gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotID, gotAuth = r.Header.Get("X-Request-Id"), r.Header.Get("Authorization")
		fmt.Fprint(w, `{"id":"x","choices":[{"text":"a"}]}`)
	}))
	defer srv.Close()
	cl := NewClient(ClientOptions{BaseURL: srv.URL + "/", APIKey: "sekret"})
	var rec results.Request
	cl.Complete(context.Background(), context.Background(), &CompletionRequest{Model: "m"}, "run-7", false, &rec)
	if gotID != "run-7" || gotAuth != "Bearer sekret" {
		t.Errorf("headers: X-Request-Id %q Authorization %q", gotID, gotAuth)
	}
}
