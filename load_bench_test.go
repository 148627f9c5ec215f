package kvbench_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"testing"

	"kvbench/results"
	"kvbench/sim/simtest"
)

// BenchmarkCaptureLoad measures the capture client end to end against the
// simulator (preset fast) on loopback, both as separate processes:
//
//   - ttft_err_p50_us / ttft_err_p99_us: capture's ttft_ns minus the
//     simulator's own stamps (first token written − request received), i.e.
//     what the client and the loopback add to TTFT;
//   - cpu_ms/1k_req and maxrss_MB: capture's CPU time per 1,000 streamed
//     requests and its peak resident memory (from rusage);
//   - chunks/s: content chunks received per second of run time.
//
// Run: go test -run '^$' -bench CaptureLoad -benchtime 1x .
func BenchmarkCaptureLoad(b *testing.B) {
	// Note: decode is paced at 20 ms per token (a GPU server's pace, not
	// the fast preset's near-zero), so the machine is not saturated and the
	// error measures the client rather than CPU contention between two
	// processes on two cores. "saturated" runs the fast preset flat out.
	for _, c := range []struct {
		name           string
		conc, requests int
		decode         string
	}{
		{"c8", 8, 400, "20ms"}, {"c64", 64, 1280, "20ms"}, {"c256", 256, 2560, "20ms"}, {"c1000", 1000, 5000, "20ms"},
		{"c64_saturated", 64, 4000, "0s"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				loadOnce(b, c.conc, c.requests, c.decode)
			}
		})
	}
}

func loadOnce(b *testing.B, conc, n int, decode string) {
	capture, _ := binaries(b)
	dir := b.TempDir()
	truth := filepath.Join(dir, "truth.jsonl")
	sim, stopSim := simtest.StartBinary(b, capture, "--kv-mode", "cpu_only", "--preset", "fast", "--ground-truth", truth,
		"--max-batch", "4096", "--cost-decode-per-token", decode)
	runID := fmt.Sprintf("load%d", conc)
	cmd := exec.Command(capture, "run", "--base-url", "http://"+sim.API, "--tier-mode", "B1", "--requests", fmt.Sprint(n),
		"--warmup", "0", "--concurrency", fmt.Sprint(conc), "--max-tokens", "32", "--stream", "--no-progress",
		"--calibrate=false", "--run-id", runID, "--results-dir", dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("capture run: %v\n%s", err, out)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	rows, err := results.ReadAll[results.Request](filepath.Join(dir, runID, "requests.parquet"), results.TableRequests)
	if err != nil {
		b.Fatal(err)
	}
	// Stop the simulator so the ground truth is flushed.
	stopSim()
	server := map[string]int64{}
	recv := map[string]int64{}
	f, err := os.Open(truth)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var g struct {
			RequestID        string `json:"request_id"`
			ReceivedUnixNs   int64  `json:"received_unix_ns"`
			FirstTokenUnixNs int64  `json:"first_token_unix_ns"`
		}
		if json.Unmarshal(sc.Bytes(), &g) == nil && g.FirstTokenUnixNs > 0 {
			server[g.RequestID] = g.FirstTokenUnixNs - g.ReceivedUnixNs
			recv[g.RequestID] = g.ReceivedUnixNs
		}
	}
	var errs, pre []float64
	var chunks int
	var first, last int64
	for _, r := range rows {
		if r.ErrorKind != "" || r.TTFTNs == nil {
			b.Fatalf("request %d failed: %s %s", r.RequestIndex, r.ErrorKind, r.Error)
		}
		if s, ok := server[r.RequestID]; ok {
			errs = append(errs, float64(*r.TTFTNs-s)/1e3)
			pre = append(pre, float64(recv[r.RequestID]-r.StartUnixNs)/1e3)
		}
		chunks += len(r.ChunkOffsetsNs)
		if first == 0 || r.StartUnixNs < first {
			first = r.StartUnixNs
		}
		last = max(last, r.StartUnixNs+r.LatencyNs)
	}
	if len(errs) < len(rows)*9/10 {
		b.Fatalf("joined %d of %d requests with the ground truth", len(errs), len(rows))
	}
	sort.Float64s(errs)
	sort.Float64s(pre)
	b.ReportMetric(pre[len(pre)/2], "send_to_handler_p50_us")
	b.ReportMetric(errs[len(errs)/2], "ttft_err_p50_us")
	b.ReportMetric(errs[len(errs)*99/100], "ttft_err_p99_us")
	b.ReportMetric(float64(cpu.Milliseconds())*1000/float64(n), "cpu_ms/1k_req")
	b.ReportMetric(float64(ru.Maxrss)/1024, "maxrss_MB")
	b.ReportMetric(float64(chunks)/(float64(last-first)/1e9), "chunks/s")
}
