package capture

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"kvbench/results"
)

// BenchmarkClientOverhead measures what the client adds to TTFT against an
// in-process SSE server that stamps when it received the request and when
// it flushed the first token: client ttft − (first token − received).
// Decode is paced at 20 ms per token so the machine is not saturated.
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
			b.ResetTimer()
			for it := 0; it < b.N; it++ {
				var wg sync.WaitGroup
				next := make(chan int)
				for w := 0; w < conc; w++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := range next {
							recs[i] = results.Request{}
							cl.Complete(context.Background(), context.Background(), &CompletionRequest{Model: "m", Prompt: "p", MaxTokens: 8, Stream: true},
								fmt.Sprintf("r%d-%d", it, i), false, &recs[i])
						}
					}()
				}
				for i := 0; i < n; i++ {
					next <- i
				}
				close(next)
				wg.Wait()
				var errs []float64
				for i := range recs {
					if recs[i].TTFTNs == nil {
						b.Fatalf("request %d: %s", i, recs[i].Error)
					}
					errs = append(errs, float64(*recs[i].TTFTNs-server[fmt.Sprintf("r%d-%d", it, i)])/1e3)
				}
				sort.Float64s(errs)
				b.ReportMetric(errs[len(errs)/2], "ttft_err_p50_us")
				b.ReportMetric(errs[len(errs)*99/100], "ttft_err_p99_us")
			}
		})
	}
}
