package ingest

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/parquet-go/parquet-go"

	"kvbench/results"
)

// Note: ingest reads the requests table column chunk by column chunk
// rather than through parquet-go's reflective row reader: it needs eleven of
// the table's columns, and reconstructing structs row by row (with a schema
// conversion for the narrower struct) cost about 5 µs per row, which alone
// would take most of a minute at 10 million rows. Reading values per row
// group is several times faster and keeps memory bounded by one row group.

// requestColumns are the leaf paths scanRequests reads. An optional
// column may be missing from bundles written before it existed: its
// values are then null.
var requestColumns = []struct {
	name     string
	path     []string
	optional bool
}{
	{"scenario", []string{"scenario"}, false},
	{"tier_mode", []string{"tier_mode"}, false},
	{"phase", []string{"phase"}, false},
	{"concurrency", []string{"concurrency"}, false},
	{"output_tokens", []string{"output_tokens"}, false},
	{"start_unix_ns", []string{"start_unix_ns"}, false},
	{"ttft_ns", []string{"ttft_ns"}, false},
	{"latency_ns", []string{"latency_ns"}, false},
	{"chunk_offsets_ns", []string{"chunk_offsets_ns", "list", "element"}, false},
	{"error_kind", []string{"error_kind"}, false},
	{"prompt_tokens", []string{"prompt_tokens"}, true},
	{"cached_tokens", []string{"cached_tokens"}, true},
	{"answer_match", []string{"answer_match"}, true},
	{"repeat_index", []string{"repeat_index"}, false},
	{"trace_seen_blocks", []string{"trace_seen_blocks"}, true},
}

const (
	colScenario = iota
	colTier
	colPhase
	colConc
	colOutTokens
	colStart
	colTTFT
	colLatency
	colChunks
	colErrorKind
	colPromptTokens
	colCachedTokens
	colAnswerMatch
	colRepeat
	colTraceSeen
)

// scanRequests calls fn for every row of a requests table file, in file
// order. The row passed to fn is reused between calls. It returns the
// number of rows read.
func scanRequests(path string, fn func(*Request)) (rows int64, err error) {
	err = withParquet(path, results.TableRequests, func(pf *parquet.File) error {
		rows, err = scanRowGroups(pf, path, fn)
		return err
	})
	return rows, err
}

// withParquet opens a table file, checks its table and schema version, and
// calls fn with it. A panic of the Parquet library on a corrupt file is
// returned as an error.
func withParquet(path, table string, fn func(*parquet.File) error) (err error) {
	pf, f, _, err := results.OpenParquet(path, table)
	if err != nil {
		return err
	}
	defer f.Close()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("read %s: corrupt parquet file: %v", path, p)
		}
	}()
	return fn(pf)
}

// scanRowGroups is scanRequests on an open file.
func scanRowGroups(pf *parquet.File, path string, fn func(*Request)) (rows int64, err error) {
	idx := make([]int, len(requestColumns))
	for i, c := range requestColumns {
		leaf, ok := pf.Schema().Lookup(c.path...)
		switch {
		case ok:
			idx[i] = leaf.ColumnIndex
		case c.optional:
			idx[i] = -1
		default:
			return 0, fmt.Errorf("read %s: no column %s", path, c.name)
		}
	}
	vals := make([][]parquet.Value, len(requestColumns))
	var r Request
	var strs [4]internedString
	var gaps []int64
	for _, rg := range pf.RowGroups() {
		chunks := rg.ColumnChunks()
		n := int(rg.NumRows())
		for i := range requestColumns {
			if idx[i] < 0 {
				vals[i] = nulls(vals[i][:0], n)
				continue
			}
			vals[i], err = readChunk(chunks[idx[i]], vals[i][:0])
			if err != nil {
				return rows, fmt.Errorf("read %s: column %s: %w", path, requestColumns[i].name, err)
			}
			if i != colChunks && len(vals[i]) != n {
				return rows, fmt.Errorf("read %s: column %s has %d values for %d rows", path, requestColumns[i].name, len(vals[i]), n)
			}
		}
		chunkVals := vals[colChunks]
		ci := 0
		for i := 0; i < n; i++ {
			r.Scenario = strs[0].of(vals[colScenario][i])
			r.TierMode = strs[1].of(vals[colTier][i])
			r.Phase = strs[2].of(vals[colPhase][i])
			r.Concurrency = vals[colConc][i].Int32()
			r.OutputTokens, r.HasOutputTokens = optInt64(vals[colOutTokens][i])
			r.StartUnixNs = vals[colStart][i].Int64()
			r.TTFTNs, r.HasTTFT = optInt64(vals[colTTFT][i])
			r.LatencyNs = vals[colLatency][i].Int64()
			r.ErrorKind = strs[3].of(vals[colErrorKind][i])
			r.PromptTokens, r.HasPromptTokens = optInt64(vals[colPromptTokens][i])
			r.CachedTokens, r.HasCachedTokens = optInt64(vals[colCachedTokens][i])
			r.AnswerMatch = AnswerUnknown
			if v := vals[colAnswerMatch][i]; !v.IsNull() {
				r.AnswerMatch = AnswerChanged
				if v.Boolean() {
					r.AnswerMatch = AnswerSame
				}
			}
			r.RepeatIndex = vals[colRepeat][i].Int32()
			r.TraceSeenBlocks = 0
			if v := vals[colTraceSeen][i]; !v.IsNull() {
				r.TraceSeenBlocks = v.Int32()
			}
			if ci, err = chunkSpan(&r, chunkVals, ci, &gaps); err != nil {
				return rows, fmt.Errorf("read %s: %w at row %d", path, err, rows)
			}
			rows++
			fn(&r)
		}
	}
	return rows, nil
}

// chunkSpan reads one row of the chunk_offsets_ns list column from
// vals[ci:] into r's chunk count, first and last offset and the 90th
// percentile of the gaps between consecutive chunks, and returns the index
// of the next row. A row starts at repetition level 0; an empty or null
// list is one null value. gaps is scratch space.
func chunkSpan(r *Request, vals []parquet.Value, ci int, gaps *[]int64) (int, error) {
	r.Chunks, r.FirstChunkNs, r.LastChunkNs, r.ITLP90Ns = 0, 0, 0, 0
	if ci >= len(vals) || vals[ci].RepetitionLevel() != 0 {
		return ci, errors.New("chunk_offsets_ns misaligned")
	}
	g := (*gaps)[:0]
	for first := true; ci < len(vals) && (first || vals[ci].RepetitionLevel() != 0); first = false {
		if !vals[ci].IsNull() {
			v := vals[ci].Int64()
			if r.Chunks == 0 {
				r.FirstChunkNs = v
			} else {
				g = append(g, v-r.LastChunkNs)
			}
			r.LastChunkNs = v
			r.Chunks++
		}
		ci++
	}
	if len(g) > 0 {
		r.ITLP90Ns = p90(g)
	}
	*gaps = g
	return ci, nil
}

// p90 is the type-7 (linear) 0.9 quantile of v, rounded to a nanosecond;
// v is sorted in place.
func p90(v []int64) int64 {
	slices.Sort(v)
	h := 0.9 * float64(len(v)-1)
	lo := int(h)
	if lo+1 >= len(v) {
		return v[lo]
	}
	return v[lo] + int64(math.Round((h-float64(lo))*float64(v[lo+1]-v[lo])))
}

// nulls returns buf holding n null values.
func nulls(buf []parquet.Value, n int) []parquet.Value {
	for range n {
		buf = append(buf, parquet.NullValue())
	}
	return buf
}

// optInt64 returns the value and true, or 0 and false for a null.
func optInt64(v parquet.Value) (int64, bool) {
	if v.IsNull() {
		return 0, false
	}
	return v.Int64(), true
}

// internedString converts dictionary-like byte values to strings without
// allocating when the value repeats.
type internedString struct {
	last []byte
	s    string
}

func (in *internedString) of(v parquet.Value) string {
	b := v.ByteArray()
	if in.last != nil && string(b) == in.s {
		return in.s
	}
	in.s = string(b)
	in.last = []byte(in.s)
	return in.s
}

// readChunk appends every value of a column chunk to buf.
func readChunk(cc parquet.ColumnChunk, buf []parquet.Value) ([]parquet.Value, error) {
	pages := cc.Pages()
	defer pages.Close()
	for {
		p, err := pages.ReadPage()
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
		n := int(p.NumValues())
		start := len(buf)
		if cap(buf)-start < n {
			nb := make([]parquet.Value, start, 2*(start+n))
			copy(nb, buf)
			buf = nb
		}
		buf = buf[:start+n]
		vr := p.Values()
		read := 0
		for read < n {
			k, err := vr.ReadValues(buf[start+read:])
			read += k
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return buf, err
			}
		}
		buf = buf[:start+read]
	}
}
