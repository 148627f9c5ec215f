package sim

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"
)

// BenchmarkServerStream drives the fast preset over loopback HTTP with
// keep-alive clients: 8-word prompts, 16 streamed tokens and a usage chunk
// per request. It reports requests per second (the target is ≥ 5,000 on a
// 2-core machine) and CPU time per request, client included.
func BenchmarkServerStream(b *testing.B) {
	cfg := testConfig(b, KVModeCPUOnly)
	cfg.MaxBatch = 1024
	srv := startServer(b, cfg)
	url := "http://" + srv.Addrs().API + "/v1/completions"
	body := []byte(`{"model":"kvbench/sim-8b","prompt":"the quick brown fox jumps over the dog","max_tokens":16,"stream":true,"stream_options":{"include_usage":true}}`)
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 32<<10)
		for pb.Next() {
			resp, err := client.Post(url, "application/json", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			n, _ := io.CopyBuffer(io.Discard, resp.Body, buf)
			resp.Body.Close()
			if resp.StatusCode != 200 || n < 100 {
				b.Errorf("status %d, %d bytes", resp.StatusCode, n)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	// CPU per request (server and client together) does not depend on what
	// else the machine runs: 2 cores / this = the request rate on an idle
	// 2-core machine.
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/req")
	}
}
