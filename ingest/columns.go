package ingest

import (
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"

	"kvbench/results"
)

// Note: ingest reads the requests table column chunk by column chunk
// rather than through parquet-go's reflective row reader: it needs eleven of
// the table's columns, and reconstructing structs row by row (with a schema
// conversion for the narrower struct) cost about 5 µs per row, which alone
// would take most of a minute at 10 million rows. Reading values per row
// group is several times faster and keeps memory bounded by one row group.

// requestColumns are the leaf paths scanRequests reads.
var requestColumns = []struct {
	name string
	path []string
}{
	{"scenario", []string{"scenario"}},
	{"tier_mode", []string{"tier_mode"}},
	{"phase", []string{"phase"}},
	{"concurrency", []string{"concurrency"}},
	{"output_tokens", []string{"output_tokens"}},
	{"start_unix_ns", []string{"start_unix_ns"}},
	{"ttft_ns", []string{"ttft_ns"}},
	{"latency_ns", []string{"latency_ns"}},
	{"chunk_offsets_ns", []string{"chunk_offsets_ns", "list", "element"}},
	{"error_kind", []string{"error_kind"}},
	{"repeat_index", []string{"repeat_index"}},
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
	colRepeat
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
		if !ok {
			return 0, fmt.Errorf("read %s: no column %s", path, c.name)
		}
		idx[i] = leaf.ColumnIndex
	}
	vals := make([][]parquet.Value, len(requestColumns))
	var r Request
	var strs [4]internedString
	for _, rg := range pf.RowGroups() {
		chunks := rg.ColumnChunks()
		n := int(rg.NumRows())
		for i := range requestColumns {
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
			r.RepeatIndex = vals[colRepeat][i].Int32()
			if ci, err = chunkSpan(&r, chunkVals, ci); err != nil {
				return rows, fmt.Errorf("read %s: %w at row %d", path, err, rows)
			}
			rows++
			fn(&r)
		}
	}
	return rows, nil
}

// chunkSpan reads one row of the chunk_offsets_ns list column from
// vals[ci:] into r's chunk count, first and last offset, and returns the
// index of the next row. A row starts at repetition level 0; an empty or
// null list is one null value.
func chunkSpan(r *Request, vals []parquet.Value, ci int) (int, error) {
	r.Chunks, r.FirstChunkNs, r.LastChunkNs = 0, 0, 0
	if ci >= len(vals) || vals[ci].RepetitionLevel() != 0 {
		return ci, errors.New("chunk_offsets_ns misaligned")
	}
	for first := true; ci < len(vals) && (first || vals[ci].RepetitionLevel() != 0); first = false {
		if !vals[ci].IsNull() {
			v := vals[ci].Int64()
			if r.Chunks == 0 {
				r.FirstChunkNs = v
			}
			r.LastChunkNs = v
			r.Chunks++
		}
		ci++
	}
	return ci, nil
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
