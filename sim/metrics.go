package sim

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Dynamo's default frontend buckets, as its generate_log_buckets makes
// them.
var (
	bucketsRequestDuration = []float64{0, 2, 4, 8, 16, 32, 64, 130, 260, 510}
	bucketsInputTokens     = []float64{0, 100, 210, 430, 870, 1800, 3600, 7400, 15000, 31000, 63000, 130000}
	bucketsOutputTokens    = []float64{0, 100, 210, 430, 880, 1800, 3700, 7600, 16000, 32000}
	bucketsTTFT            = []float64{0, 0.0022, 0.0047, 0.01, 0.022, 0.047, 0.1, 0.22, 0.47, 1, 2.2, 4.7, 10, 22, 48, 100, 220, 480}
	bucketsITL             = []float64{0, 0.0019, 0.0035, 0.0067, 0.013, 0.024, 0.045, 0.084, 0.16, 0.3, 0.56, 1.1, 2}
	// Work handler request duration, as Dynamo's push handler buckets it.
	bucketsComponentDuration = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600}
)

// histogram is a lock-free Prometheus histogram.
type histogram struct {
	upper   []float64
	counts  []atomic.Uint64 // per bucket, not cumulative; last is +Inf
	sumBits atomic.Uint64
}

func newHistogram(upper []float64) *histogram {
	return &histogram{upper: upper, counts: make([]atomic.Uint64, len(upper)+1)}
}

func (h *histogram) observe(v float64) {
	h.counts[sort.SearchFloat64s(h.upper, v)].Add(1)
	for {
		old := h.sumBits.Load()
		if h.sumBits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// expo builds Prometheus text exposition in rust-prometheus's style: HELP
// then TYPE, labels in the order given (callers pass them sorted, le last),
// floats as Rust prints them.
type expo struct {
	b      []byte
	python bool // print floats as Python's prometheus_client does (1024.0)
}

func (e *expo) header(name, help, typ string) {
	e.b = append(e.b, "# HELP "...)
	e.b = append(e.b, name...)
	e.b = append(e.b, ' ')
	e.b = appendHelp(e.b, help)
	e.b = append(e.b, "\n# TYPE "...)
	e.b = append(e.b, name...)
	e.b = append(e.b, ' ')
	e.b = append(e.b, typ...)
	e.b = append(e.b, '\n')
}

// sample writes name{labels} value; labels alternate name, value.
func (e *expo) sample(name string, labels []string, v float64) {
	e.b = append(e.b, name...)
	e.b = appendLabels(e.b, labels, "", "")
	e.b = append(e.b, ' ')
	e.b = e.appendFloat(e.b, v)
	e.b = append(e.b, '\n')
}

func (e *expo) sampleUint(name string, labels []string, v uint64) {
	e.b = append(e.b, name...)
	e.b = appendLabels(e.b, labels, "", "")
	e.b = append(e.b, ' ')
	if e.python {
		e.b = e.appendFloat(e.b, float64(v))
	} else {
		e.b = strconv.AppendUint(e.b, v, 10)
	}
	e.b = append(e.b, '\n')
}

func (e *expo) histogram(name, help string, labels []string, h *histogram) {
	e.header(name, help, "histogram")
	var cum uint64
	for i, u := range h.upper {
		cum += h.counts[i].Load()
		e.b = append(e.b, name...)
		e.b = append(e.b, "_bucket"...)
		e.b = appendLabels(e.b, labels, "le", formatRust(u))
		e.b = append(e.b, ' ')
		e.b = strconv.AppendUint(e.b, cum, 10)
		e.b = append(e.b, '\n')
	}
	cum += h.counts[len(h.upper)].Load()
	e.b = append(e.b, name...)
	e.b = append(e.b, "_bucket"...)
	e.b = appendLabels(e.b, labels, "le", "+Inf")
	e.b = append(e.b, ' ')
	e.b = strconv.AppendUint(e.b, cum, 10)
	e.b = append(e.b, '\n')
	e.sample(name+"_sum", labels, math.Float64frombits(h.sumBits.Load()))
	e.sampleUint(name+"_count", labels, cum)
}

func appendLabels(b []byte, labels []string, extraName, extraValue string) []byte {
	if len(labels) == 0 && extraName == "" {
		return b
	}
	b = append(b, '{')
	for i := 0; i+1 < len(labels); i += 2 {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, labels[i]...)
		b = append(b, `="`...)
		b = appendLabelValue(b, labels[i+1])
		b = append(b, '"')
	}
	if extraName != "" {
		if len(labels) > 0 {
			b = append(b, ',')
		}
		b = append(b, extraName...)
		b = append(b, `="`...)
		b = append(b, extraValue...)
		b = append(b, '"')
	}
	return append(b, '}')
}

// appendLabelValue escapes a label value as the text format wants:
// backslash, double quote and line feed.
func appendLabelValue(b []byte, v string) []byte { return appendEscaped(b, v, true) }

// appendHelp escapes a HELP text: backslash and line feed.
func appendHelp(b []byte, h string) []byte { return appendEscaped(b, h, false) }

func appendEscaped(b []byte, v string, quote bool) []byte {
	special := "\\\n"
	if quote {
		special = "\\\"\n"
	}
	if !strings.ContainsAny(v, special) {
		return append(b, v...)
	}
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '"' && quote:
			b = append(b, `\"`...)
		case c == '\n':
			b = append(b, `\n`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

func (e *expo) appendFloat(b []byte, v float64) []byte {
	if e.python {
		return append(b, formatPython(v)...)
	}
	return append(b, formatRust(v)...)
}

// nonFinite spells +Inf, -Inf and NaN as both Prometheus clients do.
func nonFinite(v float64) (string, bool) {
	switch {
	case math.IsInf(v, 1):
		return "+Inf", true
	case math.IsInf(v, -1):
		return "-Inf", true
	case math.IsNaN(v):
		return "NaN", true
	}
	return "", false
}

// formatRust prints v as Rust's {} does for f64 (shortest round-trip
// digits, never an exponent), with rust-prometheus's +Inf/-Inf/NaN.
func formatRust(v float64) string {
	if s, ok := nonFinite(v); ok {
		return s
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// formatPython prints v as Python's repr(float) does (1024.0, 0.5, 1e-05).
func formatPython(v float64) string {
	if s, ok := nonFinite(v); ok {
		return s
	}
	a := math.Abs(v)
	if a != 0 && (a < 1e-4 || a >= 1e16) {
		return strconv.FormatFloat(v, 'e', -1, 64)
	}
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.ContainsRune(s, '.') {
		s += ".0"
	}
	return s
}

// reqKey is the label set of dynamo_frontend_requests_total beside
// endpoint and model.
type reqKey struct {
	endpoint    string // completions or chat_completions
	errorType   string
	requestType string
	status      string
}

// frontendMetrics backs the dynamo_frontend_* families of the API port.
type frontendMetrics struct {
	model  string
	labels []string // model=...

	seen atomic.Bool // request-driven families appear after the first request

	mu       sync.Mutex
	requests map[reqKey]uint64

	active       atomic.Int64
	queued       atomic.Int64
	disconnected atomic.Int64
	outputTokens atomic.Uint64

	duration, isl, osl, ttft, itl, cached *histogram

	// Static model configuration.
	blockSize, totalBlocks, maxSeqs, maxBatchedTokens, contextLength int
}

func newFrontendMetrics(cfg Config) *frontendMetrics {
	return &frontendMetrics{
		model:            cfg.Model,
		labels:           []string{"model", cfg.Model},
		requests:         make(map[reqKey]uint64),
		duration:         newHistogram(bucketsRequestDuration),
		isl:              newHistogram(bucketsInputTokens),
		osl:              newHistogram(bucketsOutputTokens),
		ttft:             newHistogram(bucketsTTFT),
		itl:              newHistogram(bucketsITL),
		cached:           newHistogram(bucketsInputTokens),
		blockSize:        cfg.BlockTokens,
		totalBlocks:      cfg.GPUBlocks,
		maxSeqs:          cfg.MaxBatch,
		maxBatchedTokens: cfg.MaxNumTokens,
		contextLength:    cfg.MaxNumTokens,
	}
}

func (m *frontendMetrics) countRequest(k reqKey) {
	m.mu.Lock()
	m.requests[k]++
	m.mu.Unlock()
}

// write appends the exposition of the API port's /metrics.
func (m *frontendMetrics) write(b []byte) []byte {
	e := expo{b: b}
	seen := m.seen.Load()
	gauge := func(name, help string, v int64) {
		e.header(name, help, "gauge")
		e.sample(name, m.labels, float64(v))
	}
	if seen {
		gauge("dynamo_frontend_active_requests", "Number of requests currently being handled by the frontend, from HTTP handler entry to response completion", m.active.Load())
		e.histogram("dynamo_frontend_cached_tokens", "Number of cached tokens (prefix cache hits) per request", m.labels, m.cached)
	}
	e.header("dynamo_frontend_disconnected_clients", "Number of disconnected clients", "gauge")
	e.sample("dynamo_frontend_disconnected_clients", nil, float64(m.disconnected.Load()))
	if seen {
		gauge("dynamo_frontend_inflight_requests", "Number of inflight requests (deprecated alias of active_requests, same semantics)", m.active.Load())
		e.histogram("dynamo_frontend_input_sequence_tokens", "Input sequence length in tokens", m.labels, m.isl)
		e.histogram("dynamo_frontend_inter_token_latency_seconds", "Inter-token latency in seconds", m.labels, m.itl)
	}
	gauge("dynamo_frontend_model_context_length", "Maximum context length for a worker serving the model", int64(m.contextLength))
	gauge("dynamo_frontend_model_kv_cache_block_size", "KV cache block size for a worker serving the model", int64(m.blockSize))
	gauge("dynamo_frontend_model_max_num_batched_tokens", "Maximum number of batched tokens for a worker serving the model", int64(m.maxBatchedTokens))
	gauge("dynamo_frontend_model_max_num_seqs", "Maximum number of sequences for a worker serving the model", int64(m.maxSeqs))
	gauge("dynamo_frontend_model_total_kv_blocks", "Total KV blocks available for a worker serving the model", int64(m.totalBlocks))
	if seen {
		e.histogram("dynamo_frontend_output_sequence_tokens", "Output sequence length in tokens", m.labels, m.osl)
		e.header("dynamo_frontend_output_tokens_total", "Total number of output tokens generated (updates in real-time)", "counter")
		e.sampleUint("dynamo_frontend_output_tokens_total", m.labels, m.outputTokens.Load())
		gauge("dynamo_frontend_queued_requests", "Number of requests in HTTP processing queue", m.queued.Load())
		e.histogram("dynamo_frontend_request_duration_seconds", "Duration of LLM requests", m.labels, m.duration)

		m.mu.Lock()
		keys := make([]reqKey, 0, len(m.requests))
		for k := range m.requests {
			keys = append(keys, k)
		}
		vals := make([]uint64, len(keys))
		sort.Slice(keys, func(i, j int) bool {
			a, b := keys[i], keys[j]
			if a.endpoint != b.endpoint {
				return a.endpoint < b.endpoint
			}
			if a.errorType != b.errorType {
				return a.errorType < b.errorType
			}
			if a.requestType != b.requestType {
				return a.requestType < b.requestType
			}
			return a.status < b.status
		})
		for i, k := range keys {
			vals[i] = m.requests[k]
		}
		m.mu.Unlock()
		e.header("dynamo_frontend_requests_total", "Total number of LLM requests processed", "counter")
		for i, k := range keys {
			e.sampleUint("dynamo_frontend_requests_total", []string{
				"endpoint", k.endpoint, "error_type", k.errorType, "model", m.model,
				"request_type", k.requestType, "status", k.status}, vals[i])
		}
		e.histogram("dynamo_frontend_time_to_first_token_seconds", "Time to first token in seconds", m.labels, m.ttft)
	}
	return e.b
}

// kvbmFamily is one of the 13 v1 families.
type kvbmFamily struct {
	name, help, typ string
	value           func(s *KVBMStats) float64
}

// kvbmFamilies lists the v1 families sorted by name, HELP texts verbatim
// from lib/llm/src/block_manager/metrics_kvbm.rs.
var kvbmFamilies = []kvbmFamily{
	{"kvbm_disk_cache_hit_rate", "Disk cache hit rate (0.0-1.0) from the sliding window", "gauge", func(s *KVBMStats) float64 { return float64(s.DiskCacheHitRate) }},
	{"kvbm_host_cache_hit_rate", "Host cache hit rate (0.0-1.0) from the sliding window", "gauge", func(s *KVBMStats) float64 { return float64(s.HostCacheHitRate) }},
	{"kvbm_matched_tokens", "The number of matched tokens", "counter", func(s *KVBMStats) float64 { return float64(s.MatchedTokens) }},
	{"kvbm_object_cache_hit_rate", "Object storage cache hit rate (0.0-1.0) from the sliding window", "gauge", func(s *KVBMStats) float64 { return float64(s.ObjectCacheHitRate) }},
	{"kvbm_object_read_failures", "The number of failed object storage read operations (blocks)", "counter", func(s *KVBMStats) float64 { return float64(s.ObjectReadFailures) }},
	{"kvbm_object_write_failures", "The number of failed object storage write operations (blocks)", "counter", func(s *KVBMStats) float64 { return float64(s.ObjectWriteFailures) }},
	{"kvbm_offload_blocks_d2d", "The number of offload blocks from device to disk (bypassing host memory)", "counter", func(s *KVBMStats) float64 { return float64(s.OffloadBlocksD2D) }},
	{"kvbm_offload_blocks_d2h", "The number of offload blocks from device to host", "counter", func(s *KVBMStats) float64 { return float64(s.OffloadBlocksD2H) }},
	{"kvbm_offload_blocks_d2o", "The number of offload blocks from device to object storage", "counter", func(s *KVBMStats) float64 { return float64(s.OffloadBlocksD2O) }},
	{"kvbm_offload_blocks_h2d", "The number of offload blocks from host to disk", "counter", func(s *KVBMStats) float64 { return float64(s.OffloadBlocksH2D) }},
	{"kvbm_onboard_blocks_d2d", "The number of onboard blocks from disk to device", "counter", func(s *KVBMStats) float64 { return float64(s.OnboardBlocksD2D) }},
	{"kvbm_onboard_blocks_h2d", "The number of onboard blocks from host to device", "counter", func(s *KVBMStats) float64 { return float64(s.OnboardBlocksH2D) }},
	{"kvbm_onboard_blocks_o2d", "The number of onboard blocks from object storage to device", "counter", func(s *KVBMStats) float64 { return float64(s.OnboardBlocksO2D) }},
}

// writeKVBM appends the exposition of the KVBM port's /metrics: all 13 v1
// families, no labels, no _total suffix.
func writeKVBM(b []byte, s KVBMStats) []byte {
	e := expo{b: b}
	for _, f := range kvbmFamilies {
		e.header(f.name, f.help, f.typ)
		e.sample(f.name, nil, f.value(&s))
	}
	return e.b
}

// systemMetrics backs the worker's dynamo_component_* families.
type systemMetrics struct {
	workLabels []string // dynamo_component, dynamo_endpoint, dynamo_namespace, model, model_name
	kvLabels   []string // dp_rank, dynamo_component, model
	requests   atomic.Uint64
	inflight   atomic.Int64
	duration   *histogram
	// activeBlocks is the number of G1 blocks held by running sequences,
	// TRT-LLM's usedNumBlocks.
	activeBlocks atomic.Int64
	totalBlocks  int
}

func newSystemMetrics(cfg Config) *systemMetrics {
	return &systemMetrics{
		workLabels: []string{"dynamo_component", "backend", "dynamo_endpoint", "generate",
			"dynamo_namespace", "dynamo", "model", cfg.Model, "model_name", cfg.Model},
		kvLabels:    []string{"dp_rank", "0", "dynamo_component", "backend", "model", cfg.Model},
		duration:    newHistogram(bucketsComponentDuration),
		totalBlocks: cfg.GPUBlocks,
	}
}

// write appends the exposition of the system port's /metrics; uptime is in
// seconds. The two KV gauges come from Python's prometheus_client in Dynamo
// and print floats its way (1024.0).
func (m *systemMetrics) write(b []byte, uptime float64) []byte {
	e := expo{b: b}
	usage := float64(m.activeBlocks.Load()) / float64(m.totalBlocks)
	if usage > 1 {
		usage = 1
	}
	py := expo{python: true}
	e.header("dynamo_component_gpu_cache_usage_percent", "GPU cache usage as a fraction (0.0-1.0)", "gauge")
	py.b = e.b
	py.sample("dynamo_component_gpu_cache_usage_percent", m.kvLabels, usage)
	e.b = py.b
	e.header("dynamo_component_inflight_requests", "Number of requests currently being processed by work handler", "gauge")
	e.sample("dynamo_component_inflight_requests", m.workLabels, float64(m.inflight.Load()))
	e.histogram("dynamo_component_request_duration_seconds", "Time spent processing requests by work handler", m.workLabels, m.duration)
	e.header("dynamo_component_requests_total", "Total number of requests processed by work handler", "counter")
	e.sampleUint("dynamo_component_requests_total", m.workLabels, m.requests.Load())
	e.header("dynamo_component_total_blocks", "Total number of KV cache blocks", "gauge")
	py.b = e.b
	py.sample("dynamo_component_total_blocks", m.kvLabels, float64(m.totalBlocks))
	e.b = py.b
	e.header("dynamo_component_uptime_seconds", "Total uptime of the DistributedRuntime in seconds", "gauge")
	e.sample("dynamo_component_uptime_seconds", nil, uptime)
	return e.b
}
