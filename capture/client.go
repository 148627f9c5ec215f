package capture

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"syscall"
	"time"

	"kvbench/results"
)

// Client talks to an OpenAI-compatible /v1/completions endpoint and records
// what it saw into results.Request rows.
type Client struct {
	base    string
	hc      *http.Client
	apiKey  string
	timeout time.Duration
	// decodeAll turns off the byte scan of stream chunks (tests).
	decodeAll bool
}

// ClientOptions configures a Client.
type ClientOptions struct {
	BaseURL        string
	APIKey         string        // sent as a Bearer token; never stored
	Concurrency    int           // sizes the keep-alive pool
	ConnectTimeout time.Duration // dial timeout
	RequestTimeout time.Duration // whole-request timeout; 0 = none
}

// NewClient returns a client with an HTTP/1.1 keep-alive pool sized to the
// concurrency.
func NewClient(o ClientOptions) *Client {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.Concurrency < 1 {
		o.Concurrency = 1
	}
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        o.Concurrency * 2,
		MaxIdleConnsPerHost: o.Concurrency * 2,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
		// Note: an empty, non-nil map turns HTTP/2 off, so timings are
		// per-connection HTTP/1.1 as on the seed harness.
		TLSNextProto:          map[string]func(string, *tls.Conn) http.RoundTripper{},
		ResponseHeaderTimeout: 0,
	}
	return &Client{
		base:    strings.TrimRight(o.BaseURL, "/"),
		hc:      &http.Client{Transport: tr},
		apiKey:  o.APIKey,
		timeout: o.RequestTimeout,
	}
}

// Close releases idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// CompletionRequest is the body of POST /v1/completions.
type CompletionRequest struct {
	Model         string         `json:"model"`
	Prompt        string         `json:"prompt"`
	MaxTokens     int            `json:"max_tokens"`
	Temperature   float64        `json:"temperature"`
	TopP          float64        `json:"top_p"`
	Stop          []string       `json:"stop,omitempty"`
	Stream        bool           `json:"stream"`
	StreamOptions *StreamOptions `json:"stream_options,omitempty"`
}

// StreamOptions asks a streaming server for a final usage event.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type usage struct {
	PromptTokens        *int64 `json:"prompt_tokens"`
	CompletionTokens    *int64 `json:"completion_tokens"`
	PromptTokensDetails *struct {
		CachedTokens *int64 `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
}

// Complete sends one completion request and fills the timing, status and
// usage fields of rec. It never returns an error: a failure is recorded in
// rec.ErrorKind and rec.Error. runCtx is the run's context: a request cut
// short after it is done is recorded as canceled. sendCtx bounds the HTTP
// exchange; it outlives runCtx by the run's grace period.
func (c *Client) Complete(runCtx, sendCtx context.Context, req *CompletionRequest, requestID string, keepText bool, rec *results.Request) {
	body, err := json.Marshal(req)
	if err != nil {
		rec.ErrorKind, rec.Error = results.ErrProtocol, "encode request: "+err.Error()
		return
	}
	ctx := sendCtx
	var cancel context.CancelFunc
	if c.timeout > 0 {
		ctx, cancel = context.WithTimeout(sendCtx, c.timeout)
		defer cancel()
	}
	t0 := time.Now()
	rec.StartUnixNs = t0.UnixNano()
	rec.Stream = req.Stream
	since := func() int64 { return int64(time.Since(t0)) }

	trace := &httptrace.ClientTrace{
		GotFirstResponseByte: func() { rec.FirstByteNs = results.Ptr(since()) },
	}
	hreq, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, c.base+"/v1/completions", bytes.NewReader(body))
	if err != nil {
		rec.ErrorKind, rec.Error = results.ErrProtocol, err.Error()
		return
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "text/event-stream, application/json")
	if requestID != "" {
		hreq.Header.Set("X-Request-Id", requestID)
	}
	if c.apiKey != "" {
		hreq.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	resp, err := c.hc.Do(hreq)
	if err != nil {
		rec.LatencyNs = since()
		rec.ErrorKind, rec.Error = classify(runCtx, ctx, err)
		return
	}
	defer resp.Body.Close()
	rec.HeadersNs = results.Ptr(since())
	rec.StatusCode = int32(resp.StatusCode)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		rec.LatencyNs = since()
		rec.ErrorKind = results.ErrHTTP
		rec.Error = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, errorMessage(msg))
		return
	}
	if req.Stream && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		c.readStream(runCtx, ctx, resp.Body, since, keepText, rec)
	} else {
		c.readUnary(runCtx, ctx, resp.Body, since, keepText, rec)
	}
}

func (c *Client) readUnary(runCtx, ctx context.Context, body io.Reader, since func() int64, keepText bool, rec *results.Request) {
	data, err := io.ReadAll(body)
	rec.LatencyNs = since()
	if err != nil {
		rec.ErrorKind, rec.Error = classify(runCtx, ctx, err)
		return
	}
	// Non-stream TTFT is the first-byte proxy, as in the seed harness.
	rec.TTFTNs = rec.FirstByteNs
	var cb chunkBody
	if err := json.Unmarshal(data, &cb); err != nil {
		rec.ErrorKind, rec.Error = results.ErrProtocol, "decode response: "+err.Error()
		return
	}
	if msg, ok := cb.errorMessage(); ok {
		rec.ErrorKind, rec.Error = results.ErrServerEvent, "server error: "+msg
		return
	}
	rec.CompletionID = cb.ID
	setUsage(rec, cb.Usage)
	st := newStreamState(rec, keepText)
	st.decoded(&cb)
	st.finishRecord(true)
}

var doneData = []byte("[DONE]")

// readStream reads an SSE response: each dispatched event is a chunk,
// [DONE], or one of the error forms servers use (an "error" event with its
// message in data or in a comment, an "error" field, an error object in a
// data frame).
func (c *Client) readStream(runCtx, ctx context.Context, body io.Reader, since func() int64, keepText bool, rec *results.Request) {
	sr := getSSEReader(body)
	defer putSSEReader(sr)
	st := newStreamState(rec, keepText)
	st.decodeAll = c.decodeAll
	for {
		event, data, err := sr.next()
		if err != nil {
			rec.LatencyNs = since()
			if errors.Is(err, io.EOF) {
				st.finishRecord(false)
			} else {
				rec.ErrorKind, rec.Error = classify(runCtx, ctx, err)
			}
			return
		}
		now := since()
		if rec.FirstEventNs == nil {
			rec.FirstEventNs = results.Ptr(now)
		}
		switch {
		case bytes.Equal(event, errorEventType):
			rec.LatencyNs = now
			msg := errorMessage(data)
			if len(data) == 0 {
				msg = cmpOr(string(sr.comment), "error event without a message")
			}
			rec.ErrorKind, rec.Error = results.ErrServerEvent, "SSE error event: "+msg
			return
		case sr.hasErr:
			rec.LatencyNs = now
			rec.ErrorKind, rec.Error = results.ErrServerEvent, "SSE error field: "+errorMessage(sr.errField)
			return
		case len(event) > 0:
			continue // named events we do not know (annotations, dispatch)
		case bytes.Equal(data, doneData):
			rec.LatencyNs = now
			st.finishRecord(true)
			return
		}
		if !st.chunk(data, now) {
			rec.LatencyNs = now
			return
		}
	}
}

func setUsage(rec *results.Request, u *usage) {
	if u == nil {
		return
	}
	rec.PromptTokens = u.PromptTokens
	rec.OutputTokens = u.CompletionTokens
	if u.PromptTokensDetails != nil {
		rec.CachedTokens = u.PromptTokensDetails.CachedTokens
	}
}

// classify maps a transport error to an error kind and message.
func classify(runCtx, reqCtx context.Context, err error) (string, string) {
	switch {
	case runCtx.Err() != nil:
		if cause := context.Cause(runCtx); cause != nil && !errors.Is(cause, context.Canceled) {
			return results.ErrCanceled, "run stopped before the request finished: " + truncate(cause.Error(), 200)
		}
		return results.ErrCanceled, "run interrupted before the request finished"
	case errors.Is(err, context.DeadlineExceeded) || reqCtx.Err() != nil:
		return results.ErrTimeout, "request timed out: " + err.Error()
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return results.ErrTimeout, err.Error()
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) {
		return results.ErrConnection, err.Error()
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return results.ErrConnection, err.Error()
	}
	return results.ErrConnection, err.Error()
}

// errorMessage extracts a readable message from an error body.
func errorMessage(body []byte) string {
	var e struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Detail  string          `json:"detail"`
		Details string          `json:"details"`
	}
	if json.Unmarshal(body, &e) == nil {
		if e.Message != "" {
			return truncate(e.Message, 300)
		}
		if len(e.Error) > 0 {
			var inner struct {
				Message string `json:"message"`
			}
			if json.Unmarshal(e.Error, &inner) == nil && inner.Message != "" {
				return truncate(inner.Message, 300)
			}
			var s string
			if json.Unmarshal(e.Error, &s) == nil {
				return truncate(s, 300)
			}
		}
		if d := cmpOr(e.Detail, e.Details); d != "" {
			return truncate(d, 300)
		}
	}
	return truncate(strings.TrimSpace(string(body)), 300)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Models lists the model ids the server serves (GET /v1/models).
func (c *Client) Models(ctx context.Context) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/models", nil)
	if err != nil {
		return nil, err
	}
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &StatusError{Code: resp.StatusCode, Msg: errorMessage(data)}
	}
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("decode /v1/models: %w", err)
	}
	ids := make([]string, 0, len(list.Data))
	for _, m := range list.Data {
		if m.ID != "" {
			ids = append(ids, m.ID)
		}
	}
	return ids, nil
}

// Probe sends GET url (a health route) and returns the status code; the
// body is discarded. The API key is not sent: url need not be the API's.
func (c *Client) Probe(ctx context.Context, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// StatusError is a non-2xx answer from a non-completion endpoint.
type StatusError struct {
	Code int
	Msg  string
}

func (e *StatusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Code, e.Msg) }
