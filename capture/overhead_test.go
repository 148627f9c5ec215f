package capture

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"kvbench/results"
)

// BenchmarkClientOverhead measures what the client adds to TTFT against an
// in-process SSE server that stamps when it received the request and when
// it flushed the first token: client ttft − (first token − received).
// Decode is paced at 20 ms per token so the machine is not saturated.
// Note: long because the server, the bare baseline client and the
// interleaved measurement loop are one experiment read top to bottom.
func BenchmarkClientOverhead(b *testing.B) {
	for _, conc := range []int{1, 8, 64, 256} {
		b.Run(fmt.Sprintf("c%d", conc), func(b *testing.B) {
			var mu sync.Mutex
			server := map[string]int64{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				recv := time.Now()
				w.Header().Set("Content-Type", "text/event-stream")
				fl := w.(http.Flusher)
				for i := 0; i < 8; i++ {
					if i > 0 {
						time.Sleep(20 * time.Millisecond)
					}
					fmt.Fprintf(w, "data: {\"id\":\"c\",\"choices\":[{\"text\":\" w%d\"}]}\n\n", i)
					fl.Flush()
					if i == 0 {
						mu.Lock()
						server[r.Header.Get("X-Request-Id")] = int64(time.Since(recv))
						mu.Unlock()
					}
				}
				fmt.Fprint(w, "data: [DONE]\n\n")
			}))
			defer srv.Close()
			cl := NewClient(ClientOptions{BaseURL: srv.URL, Concurrency: conc})
			defer cl.Close()
			n := conc * 8
			recs := make([]results.Request, n)
			// Baseline in the same process: a bare net/http client that
			// posts a fixed body and stops its clock at the first byte of
			// the first "data:" line, with no SSE parsing, JSON or records.
			raw := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * conc}}
			rawTTFT := func(id string) int64 {
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/completions", strings.NewReader(`{"model":"m","prompt":"p","max_tokens":8,"stream":true}`))
				req.Header.Set("X-Request-Id", id)
				t0 := time.Now()
				resp, err := raw.Do(req)
				if err != nil {
					return -1
				}
				defer resp.Body.Close()
				br := bufio.NewReader(resp.Body)
				line, _ := br.ReadSlice('\n')
				d := int64(time.Since(t0))
				if !strings.HasPrefix(string(line), "data:") {
					return -1
				}
				io.Copy(io.Discard, br)
				return d
			}
			// load runs n requests through f at the benchmark's concurrency.
			load := func(f func(i int)) {
				var wg sync.WaitGroup
				next := make(chan int)
				for w := 0; w < conc; w++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := range next {
							f(i)
						}
					}()
				}
				for i := 0; i < n; i++ {
					next <- i
				}
				close(next)
				wg.Wait()
			}
			pass := 0
			ours := func(i int) {
				recs[i] = results.Request{}
				cl.Complete(context.Background(), context.Background(), &CompletionRequest{Model: "m", Prompt: "p", MaxTokens: 8, Stream: true},
					fmt.Sprintf("r%d-%d", pass, i), false, &recs[i])
			}
			base := make([]float64, n)
			bare := func(i int) {
				id := fmt.Sprintf("raw%d-%d", pass, i)
				d := rawTTFT(id)
				mu.Lock()
				base[i] = float64(d-server[id]) / 1e3
				mu.Unlock()
			}
			// Warm both connection pools, untimed.
			load(ours)
			load(bare)
			b.ResetTimer()
			for it := 0; it < b.N; it++ {
				var errs, baseline []float64
				// Interleave the two clients so drift hits both alike.
				for round := 0; round < 2; round++ {
					pass++
					load(ours)
					for i := range recs {
						if recs[i].TTFTNs == nil {
							b.Fatalf("request %d: %s", i, recs[i].Error)
						}
						errs = append(errs, float64(*recs[i].TTFTNs-server[fmt.Sprintf("r%d-%d", pass, i)])/1e3)
					}
					load(bare)
					baseline = append(baseline, base...)
				}
				sort.Float64s(errs)
				sort.Float64s(baseline)
				b.ReportMetric(errs[len(errs)/2], "ttft_err_p50_us")
				b.ReportMetric(errs[len(errs)*99/100], "ttft_err_p99_us")
				b.ReportMetric(baseline[len(baseline)/2], "baseline_err_p50_us")
				b.ReportMetric(errs[len(errs)/2]/baseline[len(baseline)/2], "p50_ratio_vs_baseline")
			}
		})
	}
}
