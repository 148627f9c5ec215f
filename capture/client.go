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

type completionBody struct {
	ID      string `json:"id"`
	Choices []struct {
		Text string `json:"text"`
	} `json:"choices"`
	Usage *usage          `json:"usage"`
	Error json.RawMessage `json:"error"`
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
	var cb completionBody
	if err := json.Unmarshal(data, &cb); err != nil {
		rec.ErrorKind, rec.Error = results.ErrProtocol, "decode response: "+err.Error()
		return
	}
	if len(cb.Error) > 0 && string(cb.Error) != "null" {
		rec.ErrorKind, rec.Error = results.ErrServerEvent, "server error: "+truncate(string(cb.Error), 300)
		return
	}
	rec.CompletionID = cb.ID
	setUsage(rec, cb.Usage)
	if keepText && len(cb.Choices) > 0 {
		rec.ResponseText = cb.Choices[0].Text
	}
}

var (
	doneData   = []byte("[DONE]")
	usageKey   = []byte(`"usage":{`)
	errorEvent = []byte("error")
)

// readStream reads an SSE completion stream into rec: the first event,
// the first token and every chunk's arrival, the completion id, usage, and
// the failure that ends it early.
// Note: one loop over the events in arrival order; split up, the order of
// its checks (error event, error field, named event, [DONE], JSON, error
// object, content) would be harder to read.
func (c *Client) readStream(runCtx, ctx context.Context, body io.Reader, since func() int64, keepText bool, rec *results.Request) {
	sr := getSSEReader(body)
	defer putSSEReader(sr)
	var text strings.Builder
	for {
		event, data, err := sr.next()
		if err != nil {
			rec.LatencyNs = since()
			switch {
			case errors.Is(err, io.EOF):
				rec.ErrorKind, rec.Error = results.ErrConnection, "stream ended without data: [DONE]"
			default:
				rec.ErrorKind, rec.Error = classify(runCtx, ctx, err)
			}
			return
		}
		now := since()
		if rec.FirstEventNs == nil {
			rec.FirstEventNs = results.Ptr(now)
		}
		if bytes.Equal(event, errorEvent) {
			rec.LatencyNs = now
			rec.ErrorKind = results.ErrServerEvent
			msg := string(data)
			if msg == "" {
				msg = string(sr.comment)
			}
			rec.Error = "SSE error event: " + truncate(msg, 300)
			return
		}
		if sr.hasErr {
			rec.LatencyNs = now
			rec.ErrorKind = results.ErrServerEvent
			rec.Error = "SSE error field: " + truncate(string(sr.errField), 300)
			return
		}
		if len(event) > 0 {
			continue // named events we do not know (annotations, dispatch)
		}
		if bytes.Equal(data, doneData) {
			rec.LatencyNs = now
			if keepText {
				rec.ResponseText = text.String()
			}
			return
		}
		if !json.Valid(data) {
			rec.LatencyNs = now
			rec.ErrorKind, rec.Error = results.ErrProtocol, "malformed SSE data: "+truncate(string(data), 120)
			return
		}
		if isErrorObject(data) {
			rec.LatencyNs = now
			rec.ErrorKind, rec.Error = results.ErrServerEvent, "server error: "+truncate(string(data), 300)
			return
		}
		content := hasText(data)
		if content {
			if rec.TTFTNs == nil {
				rec.TTFTNs = results.Ptr(now)
			}
			rec.ChunkOffsetsNs = append(rec.ChunkOffsetsNs, now)
		}
		// Decode fully only where it is needed: the first event (for the
		// completion id), the usage event, and every chunk when text is kept.
		if rec.CompletionID == "" || keepText || bytes.Contains(data, usageKey) {
			var cb completionBody
			if err := json.Unmarshal(data, &cb); err != nil {
				rec.LatencyNs = now
				rec.ErrorKind, rec.Error = results.ErrProtocol, "decode SSE data: "+err.Error()
				return
			}
			if rec.CompletionID == "" {
				rec.CompletionID = cb.ID
			}
			setUsage(rec, cb.Usage)
			if keepText && len(cb.Choices) > 0 {
				text.WriteString(cb.Choices[0].Text)
			}
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

// hasText reports whether a completion chunk carries a non-empty "text" (or
// chat "content") value, by a byte scan rather than a JSON decode.
func hasText(data []byte) bool {
	return nonEmptyString(data, `"text":`) || nonEmptyString(data, `"content":`)
}

func nonEmptyString(data []byte, key string) bool {
	for off := 0; ; {
		i := bytes.Index(data[off:], []byte(key))
		if i < 0 {
			return false
		}
		j := off + i + len(key)
		for j < len(data) && (data[j] == ' ' || data[j] == '\t' || data[j] == '\n' || data[j] == '\r') {
			j++
		}
		if j+1 < len(data) && data[j] == '"' && data[j+1] != '"' {
			return true
		}
		off = j
	}
}

// isErrorObject reports whether data is a JSON object whose first key is
// "error", the shape servers use for errors inside a 200 stream.
func isErrorObject(data []byte) bool {
	d := bytes.TrimLeft(data, " \t\r\n")
	if len(d) == 0 || d[0] != '{' {
		return false
	}
	d = bytes.TrimLeft(d[1:], " \t\r\n")
	return bytes.HasPrefix(d, []byte(`"error"`))
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
		if e.Detail != "" {
			return truncate(e.Detail, 300)
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
