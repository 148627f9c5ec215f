package results

// Table names, used as file stems (<name>.parquet) and as manifest keys.
const (
	TableRequests = "requests"
	TablePrompts  = "prompts"
	TableSchedule = "schedule"
	TableMetrics  = "metrics"
	TableIO       = "io"
	TableCacheDir = "cachedir"
	TableGPU      = "gpu"
)

// Schema versions, one per table. Adding a column keeps the version;
// renaming or retyping a column bumps it, and readers keep decoding every
// version listed in KnownVersions.
const (
	RequestsSchemaVersion = 1
	PromptsSchemaVersion  = 1
	ScheduleSchemaVersion = 1
	MetricsSchemaVersion  = 1
	IOSchemaVersion       = 1
	CacheDirSchemaVersion = 1
	GPUSchemaVersion      = 1
)

// KnownVersions lists, per table, every schema version this build can read.
var KnownVersions = map[string][]int{
	TableRequests: {1},
	TablePrompts:  {1},
	TableSchedule: {1},
	TableMetrics:  {1},
	TableIO:       {1},
	TableCacheDir: {1},
	TableGPU:      {1},
}

// CurrentVersion returns the schema version this build writes for table, or
// 0 when the table is unknown.
func CurrentVersion(table string) int {
	switch table {
	case TableRequests:
		return RequestsSchemaVersion
	case TablePrompts:
		return PromptsSchemaVersion
	case TableSchedule:
		return ScheduleSchemaVersion
	case TableMetrics:
		return MetricsSchemaVersion
	case TableIO:
		return IOSchemaVersion
	case TableCacheDir:
		return CacheDirSchemaVersion
	case TableGPU:
		return GPUSchemaVersion
	}
	return 0
}

// Error kinds stored in Request.ErrorKind. Success is the empty string.
const (
	ErrHTTP        = "http"         // non-2xx status; StatusCode holds it
	ErrConnection  = "connection"   // refused, reset, EOF before the end
	ErrTimeout     = "timeout"      // per-request or connect timeout
	ErrProtocol    = "protocol"     // malformed SSE or JSON
	ErrServerEvent = "server_event" // SSE "event: error"
	ErrCanceled    = "canceled"     // run interrupted before the request finished
	ErrPreflight   = "preflight"    // never sent: over the token budget
)

// Phase names shared by capture and analyze.
const (
	PhaseWarmup         = "warmup"
	PhaseMeasure        = "measure"
	PhasePopulate       = "populate"
	PhaseThrash         = "thrash"
	PhaseReplay         = "replay"
	PhaseReuse          = "reuse"
	PhaseBurst          = "burst"
	PhaseBaselineReplay = "baseline_replay"
)

// Request is one row of the requests table: one HTTP request as the client
// saw it. It holds raw observations only; every statistic is derived by
// analyze. Durations are offsets from StartUnixNs in nanoseconds.
type Request struct {
	RunID        string `parquet:"run_id,dict"`
	Scenario     string `parquet:"scenario,dict"`
	TierMode     string `parquet:"tier_mode,dict"`
	KVMode       string `parquet:"kv_mode,dict"`
	Phase        string `parquet:"phase,dict"`
	RequestIndex int64  `parquet:"request_index"`
	RequestID    string `parquet:"request_id"`
	PromptID     string `parquet:"prompt_id,dict"`
	IdentityHash string `parquet:"identity_hash"`
	CompletionID string `parquet:"completion_id"`
	Stream       bool   `parquet:"stream"`
	Concurrency  int32  `parquet:"concurrency"`
	MaxTokens    int32  `parquet:"max_tokens"`

	// Token counts reported by the server's usage object; nil when absent.
	PromptTokens *int64 `parquet:"prompt_tokens,optional"`
	OutputTokens *int64 `parquet:"output_tokens,optional"`
	CachedTokens *int64 `parquet:"cached_tokens,optional"`

	// ScheduledUnixNs is when the request was meant to be sent (open loop)
	// or became eligible (closed loop); StartUnixNs is when it was sent.
	ScheduledUnixNs int64 `parquet:"scheduled_unix_ns"`
	StartUnixNs     int64 `parquet:"start_unix_ns"`

	// HeadersNs is the time to the response headers, FirstByteNs to the
	// first body byte, FirstEventNs to the first SSE event of any kind, and
	// TTFTNs to the first non-empty token (stream) or first body byte
	// (non-stream). Nil when that point was never reached.
	HeadersNs    *int64 `parquet:"headers_ns,optional"`
	FirstByteNs  *int64 `parquet:"first_byte_ns,optional"`
	FirstEventNs *int64 `parquet:"first_event_ns,optional"`
	TTFTNs       *int64 `parquet:"ttft_ns,optional"`
	LatencyNs    int64  `parquet:"latency_ns"`

	// ChunkOffsetsNs holds the arrival offset of every content chunk (SSE
	// events carrying non-empty text), in order, for inter-token latency.
	ChunkOffsetsNs []int64 `parquet:"chunk_offsets_ns,list"`

	StatusCode int32  `parquet:"status_code"`
	ErrorKind  string `parquet:"error_kind,dict"`
	Error      string `parquet:"error"`

	// Scenario-specific coordinates; zero when not used.
	RepeatIndex int32  `parquet:"repeat_index"`
	SessionID   string `parquet:"session_id,dict"`
	BurstIndex  int32  `parquet:"burst_index"`
	PrefixGroup string `parquet:"prefix_group,dict"`
	// TraceLine is the trace line (1-based) a trace replay request comes
	// from, 0 outside trace runs; TraceSeenBlocks is how many of its
	// leading blocks an earlier request of the replayed trace had.
	TraceLine       int64 `parquet:"trace_line"`
	TraceSeenBlocks int32 `parquet:"trace_seen_blocks"`

	// FinishReason is the last finish_reason a choice reported ("stop",
	// "length", ...); empty when none did.
	FinishReason string `parquet:"finish_reason,dict"`
	// NoDone marks a stream that ended cleanly after a finish_reason but
	// without the final "data: [DONE]"; it counts as a success.
	NoDone bool `parquet:"no_done"`
	// ResponseHash is the FNV-1a 64 hash (16 hex digits) of the response
	// text of a successful request, kept always for the KV integrity check.
	ResponseHash string `parquet:"response_hash"`
	// AnswerMatch compares the answer of a request that repeats an earlier
	// prompt of the run (same identity hash) with that prompt's first
	// answer: true when equal. Nil for a first answer, a failed request, or
	// a run with --temperature above 0.
	AnswerMatch *bool `parquet:"answer_match,optional"`

	// ResponseText is kept only with --store-responses.
	ResponseText string `parquet:"response_text"`
}

// Ptr returns a pointer to v, for the optional columns.
func Ptr[T any](v T) *T { return &v }

// PromptRow is one row of the prompts table: a prompt of the run's
// deterministic prompt sets.
type PromptRow struct {
	RunID        string `parquet:"run_id,dict"`
	PromptID     string `parquet:"prompt_id"`
	PromptSet    string `parquet:"prompt_set,dict"`
	TargetTokens int64  `parquet:"target_tokens"`
	Words        int64  `parquet:"words"`
	// MeasuredTokens is usage.prompt_tokens of the first successful request
	// that used the prompt; nil when the server never reported it.
	MeasuredTokens *int64 `parquet:"measured_tokens,optional"`
	PromptSHA256   string `parquet:"prompt_sha256"`
	PrefixGroup    string `parquet:"prefix_group,dict"`
	Bytes          int64  `parquet:"bytes"`
}

// ScheduleRow is one row of the schedule table: the deterministic request
// plan, written before the first request is sent.
type ScheduleRow struct {
	RunID        string `parquet:"run_id,dict"`
	RequestIndex int64  `parquet:"request_index"`
	Phase        string `parquet:"phase,dict"`
	PromptID     string `parquet:"prompt_id"`
	IdentityHash string `parquet:"identity_hash"`
	Concurrency  int32  `parquet:"concurrency"`
	RepeatIndex  int32  `parquet:"repeat_index"`
	SessionID    string `parquet:"session_id,dict"`
	BurstIndex   int32  `parquet:"burst_index"`
	PrefixGroup  string `parquet:"prefix_group,dict"`
	// OffsetNs is the intended send time from the start of the phase for
	// open-loop phases; 0 in closed loop.
	OffsetNs int64 `parquet:"offset_ns"`
	// TraceLine and TraceSeenBlocks are as in the requests table.
	TraceLine       int64 `parquet:"trace_line"`
	TraceSeenBlocks int32 `parquet:"trace_seen_blocks"`
}
