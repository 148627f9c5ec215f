package telemetry

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kvbench/results"
)

func TestParseGPULine(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	i := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		line string
		want results.GPUSample
		err  bool
	}{
		{"2026/02/08 12:00:03.125, 0, 0, 1024, 81559, 301.52, 48",
			results.GPUSample{GPUTimestamp: "2026/02/08 12:00:03.125", UtilizationPct: f(0), MemoryUsedBytes: i(1024 << 20),
				MemoryTotalBytes: i(81559 << 20), PowerDrawWatts: f(301.52), TemperatureC: f(48)}, false},
		{"2026/02/08 12:00:01.123, 1, 87, [N/A], [N/A], [Not Supported], 61",
			results.GPUSample{GPUTimestamp: "2026/02/08 12:00:01.123", GPUIndex: 1, UtilizationPct: f(87), TemperatureC: f(61)}, false},
		{"2026/02/08 12:00:01.123, 0, 87", results.GPUSample{}, true},
		{"x, zero, 1, 2, 3, 4, 5", results.GPUSample{}, true},
	} {
		got, err := ParseGPULine(tc.line)
		if (err != nil) != tc.err {
			t.Errorf("ParseGPULine(%q) error %v; want error %v", tc.line, err, tc.err)
			continue
		}
		if !tc.err && !gpuEqual(got, tc.want) {
			t.Errorf("ParseGPULine(%q) = %s; want %s", tc.line, gpuString(got), gpuString(tc.want))
		}
	}
}

func gpuEqual(a, b results.GPUSample) bool { return gpuString(a) == gpuString(b) }

func gpuString(s results.GPUSample) string {
	pf := func(p *float64) string {
		if p == nil {
			return "nil"
		}
		return formatFloat(*p)
	}
	pi := func(p *int64) string {
		if p == nil {
			return "nil"
		}
		return formatFloat(float64(*p))
	}
	return strings.Join([]string{s.GPUTimestamp, pi(results.Ptr(int64(s.GPUIndex))), pf(s.UtilizationPct), pi(s.MemoryUsedBytes),
		pi(s.MemoryTotalBytes), pf(s.PowerDrawWatts), pf(s.TemperatureC)}, "|")
}

func TestGPUSampler(t *testing.T) {
	cmds := fakeCommands(t, "nvidia-smi")
	s := NewGPUSampler(cmds, 100*time.Millisecond)
	dir := t.TempDir()
	if err := s.Open(context.Background(), dir, "r"); err != nil {
		t.Fatal(err)
	}
	s.Mark(results.PhaseThrash, PointStart)
	for deadline := time.Now().Add(5 * time.Second); s.rows.Load() < 3 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	rep := s.Close()
	rows, err := results.ReadAll[results.GPUSample](filepath.Join(dir, "gpu.parquet"), results.TableGPU)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("%d gpu rows; want 3 (warnings %v)", len(rows), rep.Warnings)
	}
	if rows[0].MemoryUsedBytes != nil || *rows[2].MemoryUsedBytes != 1024<<20 || rows[1].Phase != results.PhaseThrash || rows[1].Point != PointInterval {
		t.Errorf("rows %+v", rows)
	}
	if len(rep.Warnings) != 0 {
		t.Errorf("warnings %v; want none (nvidia-smi stopped by us is not an error)", rep.Warnings)
	}
	recs := cmds.Records()
	if len(recs) != 1 || recs[0].Argv[0] != "nvidia-smi" || recs[0].Argv[len(recs[0].Argv)-1] != "100" {
		t.Errorf("command records %+v; want one nvidia-smi ... -lms 100", recs)
	}

	// Without nvidia-smi, Open fails and the runner records a warning.
	s2 := NewGPUSampler(fakeCommands(t), time.Second)
	if err := s2.Open(context.Background(), t.TempDir(), "r"); !errors.Is(err, ErrToolMissing) {
		t.Errorf("Open without nvidia-smi = %v; want ErrToolMissing", err)
	}
}

func TestLogSampler(t *testing.T) {
	cmds := fakeCommands(t, "docker")
	l, err := NewLogSampler(LogOptions{Container: "dyn", NATSContainer: "bench-nats", Commands: cmds, MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := l.Open(context.Background(), dir, "r"); err != nil {
		t.Fatal(err)
	}
	rep := l.Close()
	logs := NewCommandsLog(cmds)
	logs.Open(context.Background(), dir, "r")
	logs.Close()
	for name, want := range map[string]string{
		"telemetry/container_dyn.log":           "warning on stderr",
		"telemetry/nats_bench-nats.log":         "bench-nats started",
		"telemetry/cufile/workspace_cufile.log": "compatible mode",
		CommandsFile:                            `"argv":["docker","logs","--timestamps","--since"`,
	} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !strings.Contains(string(b), want) {
			t.Errorf("%s: %v %q; want it to contain %q", name, err, b, want)
		}
	}
	if len(rep.Warnings) != 0 {
		t.Errorf("warnings %v; want none (/etc/cufile.json is optional)", rep.Warnings)
	}
	if _, err := NewLogSampler(LogOptions{Container: "-it"}); err == nil {
		t.Errorf("NewLogSampler accepted container name -it")
	}
}
