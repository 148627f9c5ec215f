package main

import (
	"bytes"
	"context"
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
		{"kvbm down", []string{"--run-id", "down", "--metrics-kvbm-url", dead}, cli.ExitInvalid, false, "no KVBM metrics"},
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
