package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// maxBodyBytes is Dynamo's default body limit (45 MiB).
const maxBodyBytes = 45 << 20

// completionRequest holds the fields of POST /v1/completions the simulator
// reads; the sampling fields are accepted and ignored.
type completionRequest struct {
	Model         string          `json:"model"`
	Prompt        json.RawMessage `json:"prompt"`
	MaxTokens     *int            `json:"max_tokens"`
	Temperature   *float64        `json:"temperature"`
	TopP          *float64        `json:"top_p"`
	Seed          *int64          `json:"seed"`
	Stop          json.RawMessage `json:"stop"`
	Stream        bool            `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

// chatRequest holds the fields of POST /v1/chat/completions the simulator
// reads. The conversation is flattened into one prompt: the message
// contents (strings, or the text parts of content arrays) joined by a
// newline, and tokenized like a completion prompt.
type chatRequest struct {
	Model               string          `json:"model"`
	Messages            []chatMessage   `json:"messages"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Stream              bool            `json:"stream"`
	StreamOptions       json.RawMessage `json:"stream_options"`
}

type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// chatPrompt flattens messages into the prompt text.
func chatPrompt(msgs []chatMessage) (string, bool) {
	var parts []string
	for _, m := range msgs {
		if s, ok := jsonString(m.Content); ok {
			parts = append(parts, s)
			continue
		}
		var arr []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal(m.Content, &arr); err != nil {
			return "", false
		}
		for _, a := range arr {
			if a.Type == "text" {
				parts = append(parts, a.Text)
			}
		}
	}
	return strings.Join(parts, "\n"), true
}

// toCompletion turns a chat request into the completion request the
// simulator serves.
func (cr *chatRequest) toCompletion() (completionRequest, bool) {
	prompt, ok := chatPrompt(cr.Messages)
	if !ok {
		return completionRequest{}, false
	}
	raw, _ := json.Marshal(prompt)
	req := completionRequest{Model: cr.Model, Prompt: raw, MaxTokens: cr.MaxTokens, Stream: cr.Stream}
	if cr.MaxCompletionTokens != nil {
		req.MaxTokens = cr.MaxCompletionTokens
	}
	if len(cr.StreamOptions) > 0 && string(cr.StreamOptions) != "null" {
		req.StreamOptions = &struct {
			IncludeUsage bool `json:"include_usage"`
		}{}
		json.Unmarshal(cr.StreamOptions, req.StreamOptions)
	}
	return req, true
}

// defaultMaxTokens is OpenAI's default for the completions endpoint.
const defaultMaxTokens = 16

// vocabulary is the words of generated text.
var vocabulary = [...]string{
	"the", "cache", "block", "token", "prefix", "host", "disk", "device",
	"offload", "onboard", "tier", "memory", "queue", "batch", "decode", "prefill",
	"model", "layer", "head", "value", "key", "page", "copy", "stream",
	"reuse", "hit", "miss", "warm", "cold", "load", "store", "read",
	"write", "flush", "evict", "keep", "fast", "slow", "wide", "deep",
	"time", "first", "next", "last", "small", "large", "local", "remote",
	"bytes", "words", "lines", "steps", "paths", "files", "runs", "tests",
	"spark", "grace", "node", "core", "link", "lane", "bank", "ring",
}

// scratch holds a request's reusable buffers.
type scratch struct {
	tokens []uint64
	hashes []uint64
	out    []byte
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{tokens: make([]uint64, 0, 256), hashes: make([]uint64, 0, 16), out: make([]byte, 0, 1024)}
}}

// call is the state of one completion request.
type call struct {
	s       *Server
	w       http.ResponseWriter
	fl      http.Flusher
	ctx     context.Context
	sc      *scratch
	timer   *time.Timer
	stream  bool
	chat    bool // /v1/chat/completions: chat.completion objects
	usage   bool
	fault   Fault
	prompt  int // prompt tokens
	maxTok  int
	sent    int // output tokens produced
	wordKey uint64
	created int64
	id      [37]byte // "cmpl-" + 32 hex digits
	adm     Admission
	rec     GroundTruth
	start   time.Time
	lastTok time.Time
	gotSlot bool
	queued  bool // counted in the frontend's queue gauge
	first   bool // first token seen
	pending bool // written but not flushed
	status  int
	errType string
}

func (s *Server) handleCompletions(w http.ResponseWriter, r *http.Request) {
	s.handle(w, r, false)
}

// handleChat serves POST /v1/chat/completions with the same engine.
func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
	s.handle(w, r, true)
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request, chat bool) {
	s.handlers.Add(1)
	defer s.handlers.Done()
	c := call{s: s, w: w, ctx: r.Context(), start: s.now(), status: http.StatusOK, chat: chat}
	c.rec.ReceivedUnixNs = c.start.UnixNano()
	c.rec.RequestID = r.Header.Get("X-Request-Id")
	c.sc = scratchPool.Get().(*scratch)
	s.fe.seen.Store(true)
	s.fe.active.Add(1)
	defer c.finish()
	c.serve(r)
}

// finish accounts for the request whatever way it ended.
func (c *call) finish() {
	s := c.s
	s.fe.active.Add(-1)
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.gotSlot {
		<-s.sem
		s.running.Add(-1)
	}
	if c.errType == "" {
		c.errType = errorTypeFor(c.status)
	}
	rt := "unary"
	if c.stream {
		rt = "stream"
	}
	st := "success"
	if c.errType != "" {
		st = "error"
	}
	ep := "completions"
	if c.chat {
		ep = "chat_completions"
	}
	s.fe.countRequest(reqKey{endpoint: ep, errorType: c.errType, requestType: rt, status: st})
	end := s.now()
	s.fe.duration.observe(end.Sub(c.start).Seconds())
	if c.sent > 0 {
		s.fe.osl.observe(float64(c.sent))
	}
	if c.gotSlot { // the worker saw it
		s.sys.duration.observe(end.Sub(c.start).Seconds())
	}
	if s.gt != nil {
		c.rec.DoneUnixNs = end.UnixNano()
		c.rec.Status = c.status
		c.rec.Fault = c.fault
		c.rec.OutputTokens = c.sent
		if c.id[0] != 0 {
			c.rec.CompletionID = string(c.id[:])
		}
		s.gt.ch <- c.rec
	}
	sc := c.sc
	if cap(sc.tokens) <= 1<<16 && cap(sc.out) <= 1<<20 {
		sc.tokens, sc.hashes, sc.out = sc.tokens[:0], sc.hashes[:0], sc.out[:0]
		scratchPool.Put(sc)
	}
}

func errorTypeFor(status int) string {
	switch {
	case status == http.StatusNotFound:
		return "not_found"
	case status == http.StatusTooManyRequests, status == http.StatusServiceUnavailable:
		return "overload"
	case status == 499:
		return "cancelled"
	case status >= 500:
		return "internal"
	case status >= 400:
		return "validation"
	}
	return ""
}

func (c *call) fail(code int, msg string) {
	c.status = code
	writeError(c.w, code, msg)
}

// cancelled marks a request whose client went away (or the server shut
// down) before it ended.
func (c *call) cancelled() {
	c.status = 499
	c.errType = "cancelled"
	c.s.fe.disconnected.Add(1)
}

// serve runs one request through the simulated engine: parse and check it,
// inject a fault, queue for a batch slot, prefill (with tier onboarding),
// then decode token by token.
func (c *call) serve(r *http.Request) {
	s := c.s
	prompt, ok := c.parse(r)
	if !ok || !c.tokenize(prompt) || !c.injectFault() {
		return
	}
	c.created = s.now().Unix()
	c.makeID()
	if c.stream {
		h := c.w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		c.w.WriteHeader(http.StatusOK)
		c.fl, _ = c.w.(http.Flusher)
		c.pending = true
	}

	// Queue for a batch slot (FIFO: Go wakes blocked senders in order).
	s.fe.queued.Add(1)
	c.queued = true
	defer func() {
		if c.queued {
			s.fe.queued.Add(-1)
		}
	}()
	if !c.waitSlot() {
		return
	}
	c.gotSlot = true
	s.running.Add(1)
	s.sys.requests.Add(1)
	s.sys.inflight.Add(1)
	defer s.sys.inflight.Add(-1)
	bt := s.cfg.BlockTokens
	held := int64((c.prompt + c.maxTok + bt - 1) / bt)
	s.sys.activeBlocks.Add(held)
	defer s.sys.activeBlocks.Add(-held)

	cached, ok := c.prefill()
	if !ok {
		return
	}
	c.decode(cached)
}

// parse reads and decodes the body and checks the request's fields,
// answering the client itself when they are wrong. It returns the prompt.
func (c *call) parse(r *http.Request) (json.RawMessage, bool) {
	if r.ContentLength > maxBodyBytes {
		c.fail(http.StatusRequestEntityTooLarge, "Request body too large")
		return nil, false
	}
	var body []byte
	var err error
	if n := r.ContentLength; n >= 0 {
		body = make([]byte, n)
		_, err = io.ReadFull(r.Body, body)
	} else {
		body, err = io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	}
	if err != nil {
		c.fail(http.StatusBadRequest, "Failed to read the request body: "+err.Error())
		return nil, false
	}
	if len(body) > maxBodyBytes {
		c.fail(http.StatusRequestEntityTooLarge, "Request body too large")
		return nil, false
	}
	var req completionRequest
	if c.chat {
		var cr chatRequest
		if err := json.Unmarshal(body, &cr); err != nil {
			c.fail(http.StatusBadRequest, "Failed to parse the request body as JSON: "+err.Error())
			return nil, false
		}
		var ok bool
		if req, ok = cr.toCompletion(); !ok {
			c.fail(http.StatusBadRequest, "messages: content must be a string or an array of text parts")
			return nil, false
		}
	} else if err := json.Unmarshal(body, &req); err != nil {
		c.fail(http.StatusBadRequest, "Failed to parse the request body as JSON: "+err.Error())
		return nil, false
	}
	c.stream = req.Stream
	if req.Model != c.s.cfg.Model {
		c.fail(http.StatusNotFound, "Model not found")
		return nil, false
	}
	if req.StreamOptions != nil && !req.Stream {
		c.fail(http.StatusBadRequest, "`stream_options` can only be used when `stream` is True")
		return nil, false
	}
	c.usage = req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	c.maxTok = defaultMaxTokens
	if req.MaxTokens != nil {
		c.maxTok = *req.MaxTokens
	}
	if c.maxTok < 1 {
		c.fail(http.StatusBadRequest, "max_tokens must be at least 1, got "+strconv.Itoa(c.maxTok))
		return nil, false
	}
	return req.Prompt, true
}

// tokenize turns the prompt into tokens and checks the engine's budget.
func (c *call) tokenize(raw json.RawMessage) bool {
	prompt, ok := jsonString(raw)
	if !ok {
		c.fail(http.StatusBadRequest, "prompt: the simulator accepts a single string")
		return false
	}
	c.sc.tokens = Tokenize(c.sc.tokens[:0], prompt)
	c.prompt = len(c.sc.tokens)
	c.rec.PromptTokens = c.prompt
	if c.prompt == 0 {
		c.fail(http.StatusBadRequest, "prompt: empty")
		return false
	}
	if budget := c.s.cfg.MaxNumTokens; c.prompt+c.maxTok > budget {
		// Note: TRT-LLM's PyTorch backend checks the prompt alone and says
		// "The sum of prompt length (N.0), query length (0) should not
		// exceed max_num_tokens (M)"; the simulator also counts max_tokens
		// and keeps the wording's shape.
		c.fail(http.StatusBadRequest, "The sum of prompt length ("+strconv.Itoa(c.prompt)+
			"), query length (0) and max_tokens ("+strconv.Itoa(c.maxTok)+
			") should not exceed max_num_tokens ("+strconv.Itoa(budget)+")")
		return false
	}
	var key uint64 = fnvOffset64
	for _, t := range c.sc.tokens {
		key = mix64(key, t)
	}
	c.wordKey = key
	return true
}

// injectFault draws this request's fault; it returns false when the fault
// ended the request.
func (c *call) injectFault() bool {
	s := c.s
	c.fault = s.faults.request()
	switch c.fault {
	case Fault429:
		c.fail(http.StatusTooManyRequests, "Too many requests: simulated overload")
		return false
	case Fault500:
		c.fail(http.StatusInternalServerError, "Internal server error: simulated failure")
		return false
	case Fault503:
		c.fail(http.StatusServiceUnavailable, "Service is not ready")
		return false
	case FaultSlowFirstByte:
		if !c.sleep(s.cfg.Faults.SlowFirstByteDelay) {
			c.cancelled()
			return false
		}
	}
	return true
}

// waitSlot takes a batch slot, flushing what was written while it waits;
// false when the client left first.
func (c *call) waitSlot() bool {
	select {
	case c.s.sem <- struct{}{}:
		return true
	default:
	}
	c.push()
	select {
	case c.s.sem <- struct{}{}:
		return true
	case <-c.ctx.Done():
		c.cancelled()
		return false
	}
}

// prefill admits the prompt's blocks to the tiered cache and waits for the
// prefill of what was not cached plus the onboarding of what was. It
// returns the number of prompt tokens served from cache.
func (c *call) prefill() (cached int, ok bool) {
	s := c.s
	bt := s.cfg.BlockTokens
	c.sc.hashes = BlockHashes(c.sc.hashes[:0], c.sc.tokens, bt)
	c.adm = s.cache.Admit(c.sc.hashes)
	c.rec.BlocksTotal = c.adm.Blocks
	c.rec.BlocksG1 = c.adm.G1
	c.rec.BlocksG2 = c.adm.G2
	c.rec.BlocksG3 = c.adm.G3
	c.rec.BlocksRecomputed = c.adm.Recomputed
	cached = c.adm.CachedBlocks() * bt
	if c.adm.G3 > 0 && s.faults.corruptOnboard() {
		// Wrong KV from disk: the answer changes, the counters do not.
		c.wordKey ^= 0xa0761d6478bd642f
		c.rec.CorruptOnboard = true
	}
	prefill := s.scale(s.costs.Prefill(PrefillWork{
		PromptTokens:   c.prompt,
		UncachedTokens: c.prompt - cached,
		G2Tokens:       c.adm.G2 * bt,
		G3Tokens:       c.adm.G3 * bt,
	}))
	if !c.sleep(prefill) {
		c.cancelled()
		return 0, false
	}
	if c.adm.diskDone != nil {
		c.push()
		select {
		case err := <-c.adm.diskDone:
			if err != nil {
				s.logf("sim: read G3 blocks: %v", err)
			}
		case <-c.ctx.Done():
			c.cancelled()
			return 0, false
		}
	}
	return cached, true
}

// decode produces the output tokens at the decode pace, streaming each as
// a chunk or answering once at the end.
func (c *call) decode(cached int) {
	s := c.s
	half := max(c.maxTok/2, 1)
	for i := 0; i < c.maxTok; i++ {
		if i > 0 && !c.sleep(s.scale(s.costs.InterToken(int(s.running.Load())))) {
			c.cancelled()
			return
		}
		if i == half && c.stream && !c.midStreamFault() {
			return
		}
		now := s.now()
		if c.stream && !c.writeChunk(i, i == c.maxTok-1) {
			c.cancelled()
			return
		}
		c.sent++
		s.fe.outputTokens.Add(1)
		if !c.first {
			c.first = true
			c.queued = false
			s.fe.queued.Add(-1)
			s.fe.ttft.observe(now.Sub(c.start).Seconds())
			s.fe.isl.observe(float64(c.prompt))
			s.fe.cached.observe(float64(cached))
			if c.stream {
				c.rec.FirstTokenUnixNs = s.now().UnixNano()
			}
		} else {
			s.fe.itl.observe(now.Sub(c.lastTok).Seconds())
		}
		c.lastTok = now
	}
	if c.stream {
		if half >= c.maxTok && !c.midStreamFault() {
			return
		}
		c.endStream(cached)
		return
	}
	c.endUnary(cached)
}

// jsonString decodes a JSON string that json.Unmarshal has already
// validated, without a second pass when it has no escapes.
func jsonString(raw json.RawMessage) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return string(raw[1 : len(raw)-1]), true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// midStreamFault applies a mid-stream fault and reports whether the stream
// goes on.
func (c *call) midStreamFault() bool {
	switch c.fault {
	case FaultReset:
		c.errType = "internal"
		c.push()
		resetConn(c.w)
		return false
	case FaultStall:
		c.stall()
		return false
	case FaultSSEError:
		c.errType = "internal"
		c.sc.out = append(c.sc.out, "event: error\n: Stream ended before generation completed: simulated engine failure\n\n"...)
		c.push()
		return false
	case FaultMalformedSSE:
		b := c.sc.out
		b = append(b, `data: {"id":"`...)
		b = append(b, c.id[:]...)
		b = append(b, `","choices":[{"text":" broken`...)
		b = append(b, "\n\n"...)
		c.sc.out = b
	}
	return true
}

// stall waits until the client leaves, StallFor passes or shutdown.
func (c *call) stall() {
	if d := c.s.cfg.Faults.StallFor; d > 0 {
		if !c.sleep(d) {
			c.cancelled()
			return
		}
		c.errType = "internal"
		return
	}
	c.push()
	<-c.ctx.Done()
	c.cancelled()
}

// resetConn closes the connection with a TCP RST.
func resetConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// push writes and flushes the pending events (and the headers) and
// reports whether the write succeeded. Note: events are pushed before
// every wait (see sleep) and at the end, not one write per event: events
// with no simulated time between them leave in one write, which a client
// cannot tell apart in time, and which lets the fast preset serve thousands
// of streams per second on two cores.
func (c *call) push() bool {
	if len(c.sc.out) > 0 {
		_, err := c.w.Write(c.sc.out)
		c.sc.out = c.sc.out[:0]
		if err != nil {
			c.pending = false
			return false
		}
		c.pending = true
	}
	if c.pending && c.fl != nil {
		c.fl.Flush()
	}
	c.pending = false
	return true
}

// sleep waits d, or less if the request's context ends; it reports whether
// the whole wait happened.
func (c *call) sleep(d time.Duration) bool {
	if d <= 0 {
		return c.ctx.Err() == nil
	}
	if !c.push() {
		return false
	}
	if c.timer == nil {
		c.timer = time.NewTimer(d)
	} else {
		c.timer.Reset(d)
	}
	select {
	case <-c.timer.C:
		return true
	case <-c.ctx.Done():
		return false
	}
}

func (c *call) makeID() {
	copy(c.id[:], "cmpl-")
	copy(c.id[5:21], c.s.idPrefix[:])
	n := c.s.idSeq.Add(1)
	const hexd = "0123456789abcdef"
	for i := 0; i < 16; i++ {
		c.id[36-i] = hexd[n&0xf]
		n >>= 4
	}
}

func (c *call) word(i int) string {
	x := c.wordKey + uint64(i)*0x9e3779b97f4a7c15
	x ^= x >> 29
	return vocabulary[x%uint64(len(vocabulary))]
}

// appendChunkHead appends the start of a completion chunk up to the text.
func (c *call) appendHead(b []byte) []byte {
	b = append(b, `{"id":"`...)
	b = append(b, c.id[:]...)
	return b
}

func (c *call) appendTail(b []byte) []byte {
	b = append(b, `"created":`...)
	b = strconv.AppendInt(b, c.created, 10)
	b = append(b, `,"model":`...)
	b = append(b, c.s.modelJSON...)
	return b
}

// writeChunk adds token i as one SSE event to the pending events.
func (c *call) writeChunk(i int, last bool) bool {
	b := c.sc.out
	b = append(b, "data: "...)
	b = c.appendHead(b)
	if c.chat {
		b = append(b, `","choices":[{"index":0,"delta":{`...)
		if i == 0 {
			b = append(b, `"role":"assistant",`...)
		}
		b = append(b, `"content":" `...)
		b = append(b, c.word(i)...)
		b = append(b, `"},"logprobs":null,"finish_reason":`...)
	} else {
		b = append(b, `","choices":[{"text":" `...)
		b = append(b, c.word(i)...)
		b = append(b, `","index":0,"logprobs":null,"finish_reason":`...)
	}
	if last {
		b = append(b, `"length"`...)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `}],`...)
	b = c.appendTail(b)
	b = append(b, `,"system_fingerprint":null,"object":"`...)
	b = append(b, c.chunkObject()...)
	b = append(b, `","usage":null}`+"\n\n"...)
	c.sc.out = b
	if len(b) >= 32<<10 {
		return c.push()
	}
	return true
}

// chunkObject is the "object" of a streamed chunk.
func (c *call) chunkObject() string {
	if c.chat {
		return "chat.completion.chunk"
	}
	return "text_completion"
}

func (c *call) appendUsage(b []byte, cached int) []byte {
	b = append(b, `{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(c.prompt), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(c.sent), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(c.prompt+c.sent), 10)
	b = append(b, `,"prompt_tokens_details":{"cached_tokens":`...)
	b = strconv.AppendInt(b, int64(cached), 10)
	return append(b, "}}"...)
}

// endStream writes the usage chunk (if asked) and [DONE].
func (c *call) endStream(cached int) {
	b := c.sc.out
	if c.usage {
		b = append(b, "data: "...)
		b = c.appendHead(b)
		b = append(b, `","choices":[],`...)
		b = c.appendTail(b)
		b = append(b, `,"system_fingerprint":null,"object":"`...)
		b = append(b, c.chunkObject()...)
		b = append(b, `","usage":`...)
		b = c.appendUsage(b, cached)
		b = append(b, "}\n\n"...)
	}
	b = append(b, "data: [DONE]\n\n"...)
	c.sc.out = b
	if !c.push() {
		c.cancelled()
	}
}

// endUnary writes the whole non-stream response, or its fault.
func (c *call) endUnary(cached int) {
	switch c.fault {
	case FaultReset:
		c.errType = "internal"
		c.status = 0 // nothing was sent
		resetConn(c.w)
		return
	case FaultStall:
		c.stall()
		if c.status == http.StatusOK {
			// StallFor passed: close without an answer.
			c.status = 0
			if conn, _, err := http.NewResponseController(c.w).Hijack(); err == nil {
				conn.Close()
			}
		}
		return
	case FaultSSEError:
		c.fail(http.StatusInternalServerError, "Internal server error: simulated engine failure")
		return
	}
	b := c.sc.out[:0]
	b = c.appendHead(b)
	if c.chat {
		b = append(b, `","object":"chat.completion",`...)
	} else {
		b = append(b, `","object":"text_completion",`...)
	}
	b = c.appendTail(b)
	if c.chat {
		b = append(b, `,"choices":[{"index":0,"message":{"role":"assistant","content":"`...)
	} else {
		b = append(b, `,"choices":[{"index":0,"text":"`...)
	}
	for i := 0; i < c.sent; i++ {
		b = append(b, ' ')
		b = append(b, c.word(i)...)
	}
	if c.chat {
		b = append(b, `"}`...)
	} else {
		b = append(b, '"')
	}
	b = append(b, `,"logprobs":null,"finish_reason":"length"}],"usage":`...)
	b = c.appendUsage(b, cached)
	b = append(b, '}')
	if c.fault == FaultMalformedSSE {
		b = b[:len(b)/2]
	}
	c.sc.out = b
	h := c.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	c.rec.FirstTokenUnixNs = c.s.now().UnixNano()
	if _, err := c.w.Write(b); err != nil && !errors.Is(err, http.ErrHandlerTimeout) {
		c.cancelled()
	}
}
