package capture

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// Note on the trace format: one JSON object per line, as in the published
// Mooncake traces: "timestamp" (ms from the trace start), "input_length"
// and "output_length" (tokens) and "hash_ids" (the ids of the prompt's
// consecutive blocks of --trace-block-tokens tokens; equal leading ids
// mean a shared prefix). Other tools name the same fields differently;
// traceFields lists every name accepted. Without hash ids every block of
// the request is its own (no reuse).

// traceField is one field of a trace line and the names it goes by.
type traceField struct {
	name    string // canonical name, used in error messages
	aliases []string
}

// traceFields are the fields read from each line, canonical name first.
var traceFields = [...]traceField{
	fieldTimestamp: {"timestamp", []string{"timestamp", "timestamp_ms", "arrival_ms", "arrival_time_ms", "ts"}},
	fieldInput:     {"input_length", []string{"input_length", "input_tokens", "input_len", "prompt_len", "prompt_length", "prompt_tokens", "isl"}},
	fieldOutput:    {"output_length", []string{"output_length", "output_tokens", "output_len", "completion_tokens", "osl"}},
	fieldHashIDs:   {"hash_ids", []string{"hash_ids", "block_hashes", "block_ids"}},
}

const (
	fieldTimestamp = iota
	fieldInput
	fieldOutput
	fieldHashIDs
)

// TraceFieldNames describes the accepted names, for help texts.
func TraceFieldNames() string {
	parts := make([]string, len(traceFields))
	for i, f := range traceFields {
		parts[i] = f.name + " (also " + strings.Join(f.aliases[1:], ", ") + ")"
	}
	return strings.Join(parts, "; ")
}

// TraceRecord is one request of a trace.
type TraceRecord struct {
	Line         int     // 1-based line number in the file
	TimestampMs  float64 // ms from the trace start
	InputLength  int     // prompt tokens
	OutputLength int     // output tokens: the request's max_tokens
	// HashIDs are the ids of the prompt's leading blocks; blocks beyond
	// them (all of them when nil) belong to this request alone.
	HashIDs []int64
}

// Blocks is the number of blocks of the prompt.
func (r *TraceRecord) Blocks(blockTokens int) int {
	return (r.InputLength + blockTokens - 1) / blockTokens
}

// TraceOptions say how a trace is read.
type TraceOptions struct {
	BlockTokens int  // tokens per hash id
	SkipBad     bool // skip and count bad lines instead of failing
	// NoTimestamps accepts lines without a timestamp (closed-loop replay).
	NoTimestamps bool
	Offset       int // records skipped from the start
	Limit        int // records kept after Offset (0: all)
}

// Trace is a trace read and windowed, with what was skipped.
type Trace struct {
	Path    string
	Records []TraceRecord
	// Skipped counts the bad lines left out with SkipBad; FirstSkip says
	// why the first of them was.
	Skipped   int
	FirstSkip string
}

// TraceError is a bad trace line: its line, the field at fault ("" for
// the line as a whole) and what is wrong.
type TraceError struct {
	Line  int
	Field string
	Msg   string
}

func (e *TraceError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("trace line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("trace line %d: field %s: %s", e.Line, e.Field, e.Msg)
}

// LoadTrace reads the trace at path.
func LoadTrace(path string, opt TraceOptions) (*Trace, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--trace: %w", unwrapPath(err))
	}
	defer f.Close()
	t, err := ReadTrace(f, opt)
	if err != nil {
		return nil, fmt.Errorf("--trace %s: %w", path, err)
	}
	t.Path = path
	return t, nil
}

// ReadTrace reads a JSONL trace. Blank lines are ignored; any other bad
// line is an error naming it, or is skipped and counted with SkipBad.
// Offset and Limit then pick the window of records replayed.
func ReadTrace(r io.Reader, opt TraceOptions) (*Trace, error) {
	if opt.BlockTokens < 1 {
		return nil, fmt.Errorf("block tokens %d: need at least 1", opt.BlockTokens)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	t := &Trace{}
	prevTs := math.Inf(-1)
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		rec, err := parseTraceLine(b, line, opt)
		if err == nil && rec.TimestampMs < prevTs {
			err = &TraceError{line, "timestamp", fmt.Sprintf("%g is before the previous line's %g (timestamps must not decrease)", rec.TimestampMs, prevTs)}
		}
		if err != nil {
			if !opt.SkipBad {
				return nil, err
			}
			if t.Skipped == 0 {
				t.FirstSkip = err.Error()
			}
			t.Skipped++
			continue
		}
		prevTs = rec.TimestampMs
		t.Records = append(t.Records, rec)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read trace: %w", err)
	}
	if opt.Offset < 0 || opt.Limit < 0 {
		return nil, fmt.Errorf("trace offset %d and limit %d must not be negative", opt.Offset, opt.Limit)
	}
	n := len(t.Records)
	t.Records = t.Records[min(opt.Offset, n):]
	if opt.Limit > 0 && len(t.Records) > opt.Limit {
		t.Records = t.Records[:opt.Limit]
	}
	if len(t.Records) == 0 {
		return nil, fmt.Errorf("no request to replay (%d valid records, offset %d, %d bad lines skipped)", n, opt.Offset, t.Skipped)
	}
	return t, nil
}

// parseTraceLine parses one non-blank line.
func parseTraceLine(b []byte, line int, opt TraceOptions) (TraceRecord, error) {
	rec := TraceRecord{Line: line}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return rec, &TraceError{line, "", "not a JSON object: " + err.Error()}
	}
	var raw [len(traceFields)]json.RawMessage
	for i, f := range traceFields {
		found := ""
		for _, a := range f.aliases {
			v, ok := obj[a]
			if !ok || string(v) == "null" {
				continue
			}
			if found != "" {
				return rec, &TraceError{line, f.name, fmt.Sprintf("given twice, as %s and %s", found, a)}
			}
			found, raw[i] = a, v
		}
	}
	var err error
	if raw[fieldTimestamp] == nil {
		if !opt.NoTimestamps {
			return rec, &TraceError{line, "timestamp", "missing (or replay with --trace-timing=false)"}
		}
	} else if rec.TimestampMs, err = traceNumber(raw[fieldTimestamp]); err != nil || rec.TimestampMs < 0 {
		return rec, &TraceError{line, "timestamp", fmt.Sprintf("%s: want milliseconds from the trace start, at least 0", raw[fieldTimestamp])}
	}
	if rec.InputLength, err = traceLength(raw[fieldInput], line, fieldInput, 1); err != nil {
		return rec, err
	}
	if rec.OutputLength, err = traceLength(raw[fieldOutput], line, fieldOutput, 0); err != nil {
		return rec, err
	}
	if raw[fieldHashIDs] != nil {
		if err := json.Unmarshal(raw[fieldHashIDs], &rec.HashIDs); err != nil {
			return rec, &TraceError{line, "hash_ids", "want an array of integers: " + err.Error()}
		}
		if n := rec.Blocks(opt.BlockTokens); len(rec.HashIDs) > n {
			return rec, &TraceError{line, "hash_ids", fmt.Sprintf("%d ids but input_length %d makes only %d blocks of %d tokens",
				len(rec.HashIDs), rec.InputLength, n, opt.BlockTokens)}
		}
	}
	return rec, nil
}

// traceLength reads a whole number of tokens of at least least.
func traceLength(v json.RawMessage, line, field, least int) (int, error) {
	name := traceFields[field].name
	if v == nil {
		return 0, &TraceError{line, name, "missing"}
	}
	f, err := traceNumber(v)
	if err != nil || f != math.Trunc(f) || f > math.MaxInt32 {
		return 0, &TraceError{line, name, fmt.Sprintf("%s: want a whole number of tokens", v)}
	}
	if f < float64(least) {
		return 0, &TraceError{line, name, fmt.Sprintf("%s: want at least %d", v, least)}
	}
	return int(f), nil
}

// traceNumber reads a JSON number (not a string).
func traceNumber(v json.RawMessage) (float64, error) {
	var n json.Number
	if err := json.Unmarshal(v, &n); err != nil || (len(v) > 0 && v[0] == '"') {
		return 0, fmt.Errorf("not a number")
	}
	f, err := strconv.ParseFloat(n.String(), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("not a number")
	}
	return f, nil
}

// seenBlocks returns, per record, how many of its leading blocks have ids
// that an earlier record of the window also had: the prefix the trace
// itself reuses, known before anything is sent. Only the leading run
// counts, as a block is reused only when its whole prefix is (chained
// block hashes); blocks without an id are never seen.
func seenBlocks(recs []TraceRecord) []int {
	seen := map[int64]bool{}
	out := make([]int, len(recs))
	for i, r := range recs {
		k := 0
		for k < len(r.HashIDs) && seen[r.HashIDs[k]] {
			k++
		}
		out[i] = k
		for _, id := range r.HashIDs {
			seen[id] = true
		}
	}
	return out
}
