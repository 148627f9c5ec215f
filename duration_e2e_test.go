package kvbench_test

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kvbench/results"
)

// TestDurationMode runs `capture run --duration` against the simulator,
// closed and open loop, capped and uncapped: the measure phase ends at the
// duration (in-flight requests finish, none is cut), the run is valid, and
// the manifest records how many requests were planned and sent.
func TestDurationMode(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test builds binaries")
	}
	capture, _ := binaries(t)
	sim := startSim(t, capture, "--kv-mode", "cpu_only", "--preset", "fast", "--cost-decode-per-token", "5ms")
	for _, c := range []struct {
		name string
		args []string
	}{
		{"closed-uncapped", []string{"--requests", "0", "--concurrency", "4"}},
		{"closed-capped", []string{"--requests", "100000", "--concurrency", "2"}},
		{"open-uncapped", []string{"--requests", "0", "--request-rate", "40"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := t.TempDir()
			args := append([]string{"run", "--base-url", "http://" + sim.API, "--tier-mode", "B1", "--warmup", "1", "--max-tokens", "8",
				"--duration", "1.5", "--calibrate=false", "--no-progress", "--run-id", "d", "--results-dir", res, "--json"}, c.args...)
			start := time.Now()
			out, err := exec.Command(capture, args...).Output()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if took := time.Since(start); took > 8*time.Second {
				t.Errorf("run took %s with --duration 1.5", took)
			}
			var sum struct{ Valid bool }
			if err := json.Unmarshal(out, &sum); err != nil || !sum.Valid {
				t.Errorf("summary %s (%v)", out, err)
			}
			m, err := results.ReadManifest(filepath.Join(res, "d"))
			if err != nil {
				t.Fatal(err)
			}
			measure := m.Phases[len(m.Phases)-1]
			el := time.Duration(measure.EndUnixNs - measure.StartUnixNs)
			if el < 1500*time.Millisecond || el > 3*time.Second {
				t.Errorf("measure phase lasted %s; want about 1.5s", el)
			}
			if m.Sent == 0 || m.Planned != m.Sent+m.NotSent || measure.NotSent == 0 || m.Sent != int(m.Tables[results.TableRequests].Rows) {
				t.Errorf("planned %d sent %d not sent %d (phase %d), rows %d", m.Planned, m.Sent, m.NotSent, measure.NotSent, m.Tables[results.TableRequests].Rows)
			}
			if m.Config["duration"] != "1.5s" || !strings.Contains(strings.Join(m.Warnings, ";"), "--duration 1.5s") {
				t.Errorf("config duration %q, warnings %q", m.Config["duration"], m.Warnings)
			}
			rows, err := results.ReadAll[results.Request](filepath.Join(res, "d", "requests.parquet"), results.TableRequests)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				if r.ErrorKind != "" {
					t.Fatalf("request %d: %s %s (in-flight requests must finish)", r.RequestIndex, r.ErrorKind, r.Error)
				}
				if r.Phase == results.PhaseMeasure && r.StartUnixNs > measure.StartUnixNs+int64(1500*time.Millisecond)+int64(50*time.Millisecond) {
					t.Errorf("request %d started %s after the measure phase began", r.RequestIndex, time.Duration(r.StartUnixNs-measure.StartUnixNs))
				}
			}
		})
	}
}
