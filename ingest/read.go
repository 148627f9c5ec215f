package ingest

import (
	"fmt"
	"iter"
	"os"
	"path/filepath"

	"kvbench/results"
)

// Request is one row of the requests table, reduced to the columns
// analyze reads. Times are nanoseconds: StartUnixNs is wall clock, the
// others are offsets from it. (Fields are ordered to pack: a run's rows
// are held in memory while it is analysed.)
type Request struct {
	Scenario    string
	TierMode    string
	Phase       string
	ErrorKind   string // "" for a successful request
	StartUnixNs int64
	LatencyNs   int64
	// TTFTNs and OutputTokens hold a value only when HasTTFT and
	// HasOutputTokens say so (the columns are optional).
	TTFTNs       int64
	OutputTokens int64
	// PromptTokens and CachedTokens are the usage counts, when
	// HasPromptTokens and HasCachedTokens say so.
	PromptTokens, CachedTokens int64
	// FirstChunkNs and LastChunkNs are the first and last offsets of the
	// stream's content chunks (0 without chunks), Chunks their number.
	// The offsets in between are not kept.
	FirstChunkNs, LastChunkNs int64
	// ITLP90Ns is the 90th percentile of the gaps between consecutive
	// content chunks (0 with fewer than two chunks): the request's
	// inter-token latency as an SLO on ITL reads it.
	ITLP90Ns    int64
	Chunks      int32
	Concurrency int32
	// RepeatIndex is the pass of a phase that a scenario repeats
	// (reuse_verify: 0, 1, ...); 0 elsewhere.
	RepeatIndex     int32
	HasTTFT         bool
	HasOutputTokens bool
	HasPromptTokens bool
	HasCachedTokens bool
	// AnswerMatch compares a repeated prompt's answer with its first
	// answer in the run (the answer_match column).
	AnswerMatch AnswerMatch
	// TraceSeenBlocks is the trace_seen_blocks column (0 when absent).
	TraceSeenBlocks int32
}

// AnswerMatch is a request's answer_match column.
type AnswerMatch int8

// Values of AnswerMatch.
const (
	AnswerUnknown AnswerMatch = iota // not a repeat, failed, or not recorded
	AnswerSame                       // the same answer as the prompt's first
	AnswerChanged                    // a different answer
)

// Run is one bundle with its tables read: the requests, and the
// telemetry rows analyze uses. Values are as captured: nanoseconds,
// bytes and cumulative counters.
type Run struct {
	Bundle
	// Requests holds every row of the requests table, in file order.
	Requests []Request
	// Metrics holds the samples of KVBM counter families (every name
	// generation) from successful scrapes; other families are not kept.
	Metrics []results.MetricSample
	// IO and CacheDir hold the io and cachedir tables.
	IO       []results.IOSample
	CacheDir []results.CacheDirSnapshot
	// TelemetryErr says why a telemetry table could not be read; Metrics,
	// IO and CacheDir are then empty. A missing table is not an error.
	TelemetryErr error
}

// Dataset is the bundles found under the paths given to Load, read one
// run at a time by Runs.
type Dataset struct {
	Bundles []Bundle
	// Skipped lists bundles that could not be used, with the reason:
	// those Discover rejected, then those Runs could not read.
	Skipped []Skipped
}

// Load discovers and validates the bundles under paths (see Discover).
// It reads no table: Runs does, one run at a time, so memory holds one
// run's rows at most.
func Load(paths []string, f Filter) (*Dataset, error) {
	bundles, skipped, err := Discover(paths, f)
	if err != nil {
		return nil, err
	}
	return &Dataset{Bundles: bundles, Skipped: skipped}, nil
}

// Runs reads the bundles in order. A bundle whose requests table cannot
// be read, or disagrees with its manifest, is appended to ds.Skipped and
// not yielded.
func (ds *Dataset) Runs() iter.Seq[*Run] {
	return func(yield func(*Run) bool) {
		for _, b := range ds.Bundles {
			r, err := ReadRun(b)
			if err != nil {
				ds.Skipped = append(ds.Skipped, Skipped{Path: b.Dir, Reason: err.Error()})
				continue
			}
			if !yield(r) {
				return
			}
		}
	}
}

// ReadRun reads a bundle's requests and telemetry tables. An error means
// the requests cannot be used; a telemetry table that cannot be read is
// reported in Run.TelemetryErr instead.
func ReadRun(b Bundle) (*Run, error) {
	info, ok := b.Manifest.Tables[results.TableRequests]
	if !ok {
		return nil, fmt.Errorf("manifest lists no %s table", results.TableRequests)
	}
	r := &Run{Bundle: b, Requests: make([]Request, 0, max(0, min(info.Rows, 1<<24)))}
	rows, err := scanRequests(filepath.Join(b.Dir, info.File), func(q *Request) { r.Requests = append(r.Requests, *q) })
	if err != nil {
		return nil, err
	}
	if rows != info.Rows {
		return nil, fmt.Errorf("%s has %d rows, manifest says %d", info.File, rows, info.Rows)
	}
	if err := r.readTelemetry(); err != nil {
		r.Metrics, r.IO, r.CacheDir, r.TelemetryErr = nil, nil, nil, err
	}
	return r, nil
}

func (r *Run) readTelemetry() error {
	err := scanTable(r.Bundle, results.TableMetrics, 8192, func(m *results.MetricSample) {
		if m.ScrapeError == "" && m.Name != "" && results.KVBMRole(m.Name) != "" {
			r.Metrics = append(r.Metrics, *m)
		}
	})
	if err != nil {
		return err
	}
	if err := scanTable(r.Bundle, results.TableIO, 8192, func(s *results.IOSample) { r.IO = append(r.IO, *s) }); err != nil {
		return err
	}
	return scanTable(r.Bundle, results.TableCacheDir, 4096, func(s *results.CacheDirSnapshot) { r.CacheDir = append(r.CacheDir, *s) })
}

// scanTable calls fn for each row of one of the bundle's tables. A table
// the manifest does not list, or whose file is gone, has no rows.
func scanTable[T any](b Bundle, table string, batch int, fn func(*T)) error {
	info, ok := b.Manifest.Tables[table]
	if !ok {
		return nil
	}
	path := filepath.Join(b.Dir, info.File)
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	err := results.Scan(path, table, batch, func(rows []T) error {
		for i := range rows {
			fn(&rows[i])
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s table: %w", table, err)
	}
	return nil
}
