package ingest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"sort"
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
		if rng.IntN(3) != 0 {
			r.PromptTokens, r.CachedTokens = results.Ptr(rng.Int64N(8000)), results.Ptr(rng.Int64N(8000))
		}
		if rng.IntN(2) == 0 {
			r.AnswerMatch = results.Ptr(rng.IntN(3) != 0)
		}
		if rng.IntN(2) == 0 {
			r.TraceLine, r.TraceSeenBlocks = int64(i+1), rng.Int32N(20)
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
			RepeatIndex: w.RepeatIndex, TraceSeenBlocks: w.TraceSeenBlocks}
		if w.TTFTNs != nil {
			exp.TTFTNs, exp.HasTTFT = *w.TTFTNs, true
		}
		if w.OutputTokens != nil {
			exp.OutputTokens, exp.HasOutputTokens = *w.OutputTokens, true
		}
		if w.PromptTokens != nil {
			exp.PromptTokens, exp.HasPromptTokens = *w.PromptTokens, true
			exp.CachedTokens, exp.HasCachedTokens = *w.CachedTokens, true
		}
		switch {
		case w.AnswerMatch == nil:
		case *w.AnswerMatch:
			exp.AnswerMatch = AnswerSame
		default:
			exp.AnswerMatch = AnswerChanged
		}
		if c := w.ChunkOffsetsNs; len(c) > 0 {
			exp.FirstChunkNs, exp.LastChunkNs = c[0], c[len(c)-1]
			exp.ITLP90Ns = numpyP90Gap(c)
			if d := exp.ITLP90Ns - got[i].ITLP90Ns; d == 1 || d == -1 {
				exp.ITLP90Ns = got[i].ITLP90Ns // float rounding of the reference
			}
		}
		if diff := cmp.Diff(exp, got[i]); diff != "" {
			t.Fatalf("row %d (-want +got):\n%s", i, diff)
		}
	}
}

// oldRequest is a requests row as written before the usage and answer
// columns existed.
type oldRequest struct {
	Scenario       string  `parquet:"scenario,dict"`
	TierMode       string  `parquet:"tier_mode,dict"`
	Phase          string  `parquet:"phase,dict"`
	Concurrency    int32   `parquet:"concurrency"`
	OutputTokens   *int64  `parquet:"output_tokens,optional"`
	StartUnixNs    int64   `parquet:"start_unix_ns"`
	TTFTNs         *int64  `parquet:"ttft_ns,optional"`
	LatencyNs      int64   `parquet:"latency_ns"`
	ChunkOffsetsNs []int64 `parquet:"chunk_offsets_ns,list"`
	ErrorKind      string  `parquet:"error_kind,dict"`
	RepeatIndex    int32   `parquet:"repeat_index"`
}

// TestScanRequestsOldBundle reads a requests table without the optional
// columns: their values are absent, the rest is read.
func TestScanRequestsOldBundle(t *testing.T) {
	dir := t.TempDir()
	w, err := results.NewTableWriter[oldRequest](dir, results.TableRequests, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(oldRequest{Scenario: "standard", TierMode: "B1", Phase: "measure", LatencyNs: 5, TTFTNs: results.Ptr(int64(3)), ChunkOffsetsNs: []int64{3, 4}})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var got []Request
	if _, err := scanRequests(filepath.Join(dir, "requests.parquet"), func(r *Request) { got = append(got, *r) }); err != nil {
		t.Fatal(err)
	}
	want := []Request{{Scenario: "standard", TierMode: "B1", Phase: "measure", LatencyNs: 5, TTFTNs: 3, HasTTFT: true,
		Chunks: 2, FirstChunkNs: 3, LastChunkNs: 4, ITLP90Ns: 1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// numpyP90Gap is numpy.quantile(np.diff(offsets), 0.9) (linear), rounded:
// written out in floats, as a check on the integer version.
func numpyP90Gap(offsets []int64) int64 {
	if len(offsets) < 2 {
		return 0
	}
	var g []float64
	for i := 1; i < len(offsets); i++ {
		g = append(g, float64(offsets[i]-offsets[i-1]))
	}
	sort.Float64s(g)
	h := 0.9 * float64(len(g)-1)
	j := int(math.Floor(h))
	if j+1 >= len(g) {
		return int64(g[j])
	}
	return int64(math.Round(g[j] + (h-float64(j))*(g[j+1]-g[j])))
}

func TestP90(t *testing.T) {
	for _, c := range []struct {
		in   []int64
		want int64
	}{
		{[]int64{5}, 5}, {[]int64{1, 2}, 2}, {[]int64{10, 0, 20, 30, 40, 50, 60, 70, 80, 90, 100}, 90},
		{[]int64{1, 1, 1, 1, 100}, 60},
	} {
		if got := p90(append([]int64(nil), c.in...)); got != c.want {
			t.Errorf("p90(%v) = %d; want %d", c.in, got, c.want)
		}
	}
}
