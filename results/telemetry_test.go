package results

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/parquet-go/parquet-go"
)

// Every column of the telemetry tables is documented in SCHEMA.md.
func TestTelemetryColumnsDocumented(t *testing.T) {
	doc, err := os.ReadFile("SCHEMA.md")
	if err != nil {
		t.Fatal(err)
	}
	for table, row := range map[string]any{
		TableMetrics: MetricSample{}, TableIO: IOSample{}, TableCacheDir: CacheDirSnapshot{}, TableGPU: GPUSample{},
	} {
		for _, f := range parquet.SchemaOf(row).Fields() {
			if !strings.Contains(string(doc), "`"+f.Name()+"`") {
				t.Errorf("table %s: column %s is not in SCHEMA.md", table, f.Name())
			}
		}
	}
}

func roundTrip[T any](t *testing.T, table string, rows []T) {
	t.Helper()
	dir := t.TempDir()
	w, err := NewTableWriter[T](dir, table, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rows...); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadAll[T](w.Path(), table)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rows, got); diff != "" {
		t.Errorf("%s round trip (-want +got):\n%s", table, diff)
	}
}

func TestTelemetryRoundTrip(t *testing.T) {
	roundTrip(t, TableMetrics, []MetricSample{
		{RunID: "r", Source: "kvbm", ScrapeUnixNs: 1, Phase: "populate", Point: "start", Name: "kvbm_offload_blocks_h2d", Labels: "{}", Type: "counter", Value: 2048},
		{RunID: "r", Source: "system", ScrapeUnixNs: 2, Phase: "populate", Point: "start", ScrapeError: "connection refused"},
	})
	roundTrip(t, TableIO, []IOSample{
		{RunID: "r", SampleUnixNs: 1, Phase: "p", Point: "end", Scope: IOScopeDevice, Target: "nvme0n1", Device: "nvme0n1",
			ReadBytes: 512, WriteBytes: 1024, ReadOps: Ptr[int64](1), WriteOps: Ptr[int64](2), IOTimeNs: Ptr[int64](3e6), InFlight: Ptr[int64](0)},
		{RunID: "r", SampleUnixNs: 1, Phase: "p", Point: "end", Scope: IOScopeProcess, Target: "42", WriteBytes: 4096,
			SyscallWriteBytes: Ptr[int64](5000), SyscallWrites: Ptr[int64](3)},
	})
	roundTrip(t, TableCacheDir, []CacheDirSnapshot{
		{RunID: "r", Dir: "/mnt/nvme/kvbm", FileCount: 1, TotalBytes: 10, FSUsedBytes: Ptr[int64](1 << 30)},
		{RunID: "r", Dir: "/mnt/nvme/kvbm", Error: "list: no such file or directory"},
	})
	roundTrip(t, TableGPU, []GPUSample{
		{RunID: "r", GPUTimestamp: "2026/02/08 12:00:01.123", UtilizationPct: Ptr(87.0), TemperatureC: Ptr(61.0)},
	})
}
