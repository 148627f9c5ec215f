package ingest

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"kvbench/results"
)

// TestScanRequestsMatchesRowReader checks the column-chunk reader against
// parquet-go's row reader on a file with many row groups and pages, nulls,
// empty and long lists, and changing strings.
func TestScanRequestsMatchesRowReader(t *testing.T) {
	dir := t.TempDir()
	w, _ := results.NewTableWriter[results.Request](dir, results.TableRequests, 1000)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 5000; i++ {
		r := results.Request{Scenario: []string{"standard", "eviction_replay"}[i/2500], TierMode: []string{"B1", "B2"}[rng.IntN(2)],
			Phase: []string{"populate", "thrash", "replay"}[rng.IntN(3)], Concurrency: int32(rng.IntN(64)),
			StartUnixNs: rng.Int64(), LatencyNs: rng.Int64N(1e9), ErrorKind: []string{"", "", "", "http", "timeout"}[rng.IntN(5)],
			Error: fmt.Sprintf("err %d", i), RepeatIndex: int32(rng.IntN(3))}
		if rng.IntN(4) != 0 {
			r.TTFTNs = results.Ptr(rng.Int64N(1e9))
		}
		if rng.IntN(3) != 0 {
			r.OutputTokens = results.Ptr(rng.Int64N(300))
		}
		for k := rng.IntN(300); k > 0; k-- {
			r.ChunkOffsetsNs = append(r.ChunkOffsetsNs, rng.Int64N(1e9))
		}
		w.Write(r)
	}
	w.Close()
	path := filepath.Join(dir, "requests.parquet")
	want, err := results.ReadAll[results.Request](path, results.TableRequests)
	if err != nil {
		t.Fatal(err)
	}
	var got []Request
	n, err := scanRequests(path, func(r *Request) { got = append(got, *r) })
	if err != nil || n != 5000 {
		t.Fatalf("scanRequests: %d rows, %v", n, err)
	}
	for i, w := range want {
		exp := Request{Scenario: w.Scenario, TierMode: w.TierMode, Phase: w.Phase, Concurrency: w.Concurrency,
			StartUnixNs: w.StartUnixNs, LatencyNs: w.LatencyNs, ErrorKind: w.ErrorKind, Chunks: int32(len(w.ChunkOffsetsNs)),
			RepeatIndex: w.RepeatIndex}
		if w.TTFTNs != nil {
			exp.TTFTNs, exp.HasTTFT = *w.TTFTNs, true
		}
		if w.OutputTokens != nil {
			exp.OutputTokens, exp.HasOutputTokens = *w.OutputTokens, true
		}
		if c := w.ChunkOffsetsNs; len(c) > 0 {
			exp.FirstChunkNs, exp.LastChunkNs = c[0], c[len(c)-1]
		}
		if diff := cmp.Diff(exp, got[i]); diff != "" {
			t.Fatalf("row %d (-want +got):\n%s", i, diff)
		}
	}
}
