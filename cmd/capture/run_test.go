package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"kvbench/internal/cli"
	"kvbench/results"
	"kvbench/sim/simtest"
)

func TestTelemetryFlagErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"metrics-url without name", []string{"--metrics-url", "http://127.0.0.1:1/metrics"}, "want NAME=URL"},
		{"metrics-url bad name", []string{"--metrics-url", "Front/End=http://127.0.0.1:1/metrics"}, "metrics source"},
		{"metrics-url clashes", []string{"--metrics-kvbm-url", "http://a/metrics", "--metrics-url", "kvbm=http://b/metrics"}, "given twice"},
		{"not http", []string{"--metrics-kvbm-url", "file:///etc/passwd"}, "want http://"},
		{"snapshot without url", []string{"--capture-metrics-snapshot"}, "needs a metrics URL"},
		{"option-like container", []string{"--container-name", "--privileged"}, "container name"},
		{"negative interval", []string{"--metrics-interval", "-1s", "--metrics-kvbm-url", "http://a/metrics"}, "must not be negative"},
		{"bad pid", []string{"--io-pid", "0"}, "io pid 0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append([]string{"run", "--tier-mode", "B1", "--dry-run"}, c.args...)
			if code := run(context.Background(), args, &out, &errb); code != cli.ExitUsage {
				t.Errorf("exit %d; want %d (stderr %q)", code, cli.ExitUsage, errb.String())
			}
			if !strings.Contains(errb.String(), c.want) {
				t.Errorf("stderr %q; want it to contain %q", errb.String(), c.want)
			}
		})
	}
}

func TestRunWithTelemetry(t *testing.T) {
	a := simtest.Start(t, nil).Addrs()
	dead := "http://" + freeAddr(t) + "/metrics"
	base := []string{"run", "--tier-mode", "B1", "--base-url", "http://" + a.API, "--requests", "4", "--warmup", "2",
		"--max-tokens", "4", "--calibrate=false", "--no-progress", "--results-dir", t.TempDir(),
		"--metrics-system-url", "http://" + a.System + "/metrics", "--metrics-url", "fe=http://" + a.API + "/metrics",
		"--metrics-interval", "20ms", "--io-pid", strconv.Itoa(os.Getpid()), "--io-interval", "20ms"}
	for _, c := range []struct {
		name     string
		args     []string
		code     int
		snapshot bool
		want     string // in the manifest's invalid reasons or warnings
	}{
		{"kvbm up", []string{"--run-id", "up", "--metrics-kvbm-url", "http://" + a.KVBM + "/metrics", "--capture-metrics-snapshot"}, cli.ExitOK, true, ""},
		{"kvbm down allowed", []string{"--run-id", "allowed", "--metrics-kvbm-url", dead, "--allow-missing-kvbm-metrics"}, cli.ExitOK, false, "no KVBM metrics"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append(append([]string{}, base...), c.args...)
			code := run(context.Background(), args, &out, &errb)
			if code != c.code {
				t.Fatalf("exit %d; want %d\nstdout %s\nstderr %s", code, c.code, out.String(), errb.String())
			}
			i := strings.Index(out.String(), "run bundle: ")
			if i < 0 {
				t.Fatalf("no bundle in output %q", out.String())
			}
			dir := strings.TrimSpace(strings.SplitN(out.String()[i+len("run bundle: "):], "\n", 2)[0])
			m, err := results.ReadManifest(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, table := range []string{results.TableMetrics, results.TableIO} {
				if m.Tables[table].Rows == 0 {
					t.Errorf("table %s: %+v; want rows", table, m.Tables[table])
				}
			}
			if m.Config["metrics-interval"] != "20ms" {
				t.Errorf("manifest config metrics-interval = %q; want 20ms", m.Config["metrics-interval"])
			}
			all := strings.Join(append(append([]string{}, m.InvalidReasons...), m.Warnings...), "\n")
			if c.want != "" && !strings.Contains(all, c.want) {
				t.Errorf("manifest reasons and warnings %q; want %q", all, c.want)
			}
			if want := map[bool]string{true: results.KVBMMetricsOK, false: results.KVBMMetricsUnreachable}[c.snapshot]; m.KVBMMetrics != want {
				t.Errorf("manifest kvbm_metrics %q; want %q", m.KVBMMetrics, want)
			}
			_, err = os.Stat(filepath.Join(dir, "metrics_kvbm_"+results.PhaseMeasure+"_end.prom"))
			if (err == nil) != c.snapshot {
				t.Errorf("snapshot file exists = %v; want %v", err == nil, c.snapshot)
			}
			if c.snapshot {
				for _, f := range []string{"metrics_fe_" + results.PhaseWarmup + "_start.prom", "metrics_kvbm_inventory.json", "metrics_system_inventory.json"} {
					if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
						t.Errorf("%v", err)
					}
				}
			}
		})
	}
}

// TestPreflight checks what stops a run before its first request: a KVBM
// endpoint that does not answer or answers without KVBM families, and a
// cache directory that is not a writable directory. Each exits 3 with one
// line naming what failed, sends no completion (not even a calibration
// probe) and leaves a bundle whose manifest says why. A B1 run without a
// KVBM endpoint runs, with a warning printed and recorded.
func TestPreflight(t *testing.T) {
	a := simtest.Start(t, nil).Addrs()
	res := t.TempDir()
	dead := "http://" + freeAddr(t) + "/metrics"
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	base := []string{"run", "--tier-mode", "B2", "--base-url", "http://" + a.API, "--requests", "2", "--warmup", "1",
		"--max-tokens", "2", "--no-progress", "--results-dir", res}
	for _, c := range []struct {
		name, kvbm string
		args       []string
		want       []string // on the one line of stderr
		status     string
	}{
		{"kvbm port wrong", "down", []string{"--metrics-kvbm-url", dead}, []string{dead, "connection refused", "6880"}, results.KVBMMetricsUnreachable},
		{"not a kvbm endpoint", "system", []string{"--metrics-kvbm-url", "http://" + a.System + "/metrics"},
			[]string{a.System, "none of them KVBM's"}, results.KVBMMetricsNoFamilies},
		{"cache dir is a file", "cachedir", []string{"--metrics-kvbm-url", "http://" + a.KVBM + "/metrics", "--kvbm-cache-dir", file},
			[]string{"--kvbm-cache-dir " + file, "not a directory"}, results.KVBMMetricsOK},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := completions(t, a.API)
			var out, errb bytes.Buffer
			args := append(append([]string{}, base...), append(c.args, "--run-id", c.kvbm)...)
			if code := run(context.Background(), args, &out, &errb); code != cli.ExitInvalid {
				t.Fatalf("exit %d; want 3\nstdout %s\nstderr %s", code, out.String(), errb.String())
			}
			lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
			if len(lines) != 1 {
				t.Errorf("stderr has %d lines; want one:\n%s", len(lines), errb.String())
			}
			for _, w := range c.want {
				if !strings.Contains(lines[len(lines)-1], w) {
					t.Errorf("stderr %q lacks %q", lines[len(lines)-1], w)
				}
			}
			if got := completions(t, a.API); got != before {
				t.Errorf("the server received %v completion(s); want none", got-before)
			}
			m, err := results.ReadManifest(filepath.Join(res, c.kvbm))
			if err != nil {
				t.Fatal(err)
			}
			if m.Valid || len(m.InvalidReasons) != 1 || !strings.Contains(m.InvalidReasons[0], "preflight") || m.KVBMMetrics != c.status {
				t.Errorf("manifest valid=%v reasons=%q kvbm_metrics=%q", m.Valid, m.InvalidReasons, m.KVBMMetrics)
			}
		})
	}
	var out, errb bytes.Buffer
	before := completions(t, a.API)
	if code := run(context.Background(), append(append([]string{}, base...), "--run-id", "nokvbm"), &out, &errb); code != cli.ExitOK {
		t.Fatalf("B2 without KVBM URL: exit %d\n%s", code, errb.String())
	}
	if got := completions(t, a.API) - before; got != 2+3 { // two calibration probes, warmup 1, requests 2
		t.Errorf("the simulator counted %v completions for a run of 3 and 2 probes", got)
	}
	if !strings.Contains(errb.String(), "warning: tier mode B2 without --metrics-kvbm-url") {
		t.Errorf("no warning on stderr:\n%s", errb.String())
	}
	m, err := results.ReadManifest(filepath.Join(res, "nokvbm"))
	if err != nil || m.KVBMMetrics != results.KVBMMetricsNotConfigured || !strings.Contains(strings.Join(m.Warnings, "\n"), "no KVBM counters") {
		t.Errorf("manifest kvbm_metrics %q warnings %q (%v)", m.KVBMMetrics, m.Warnings, err)
	}
}

// completions reads how many /v1/completions requests the simulator at
// api has counted (dynamo_frontend_requests_total, every status).
func completions(t *testing.T, api string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var n float64
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "dynamo_frontend_requests_total{") && strings.Contains(line, `endpoint="completions"`) {
			v, _ := strconv.ParseFloat(line[strings.LastIndex(line, " ")+1:], 64)
			n += v
		}
	}
	return n
}
