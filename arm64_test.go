package kvbench_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"kvbench/results"
	"kvbench/sim/simtest"
)

// TestArm64CaptureUnderQEMU runs the binary the DGX Spark gets (static
// linux/arm64, no cgo) under qemu-user for one short eviction_replay run
// against the simulator, then analyze reads the bundle it wrote. Without
// qemu-aarch64-static the test is skipped, unless KVBENCH_REQUIRE_QEMU is
// set (CI sets it, after installing Debian's qemu-user-static).
func TestArm64CaptureUnderQEMU(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a cross binary")
	}
	qemu, err := exec.LookPath("qemu-aarch64-static")
	if err != nil {
		if os.Getenv("KVBENCH_REQUIRE_QEMU") != "" {
			t.Fatal("qemu-aarch64-static not found and KVBENCH_REQUIRE_QEMU is set (apt-get install qemu-user-static)")
		}
		t.Skip("qemu-aarch64-static not installed")
	}
	capture, analyze := binaries(t)
	dir := t.TempDir()
	arm := filepath.Join(dir, "capture-linux-arm64")
	build := exec.Command("go", "build", "-o", arm, "./cmd/capture")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("cross build: %v\n%s", err, out)
	}
	a, _ := simtest.StartBinary(t, capture, "--kv-mode", "cpu_disk", "--preset", "fast")
	res := filepath.Join(dir, "results")
	out := runCmd(t, 0, qemu, arm, "run", "--base-url", "http://"+a.API, "--tier-mode", "B2",
		"--scenario", "eviction_replay", "--warmup", "2", "--eviction-a-requests", "6", "--eviction-b-requests", "8",
		"--long-range", "600:800", "--max-tokens", "8", "--stream", "--no-progress",
		"--metrics-kvbm-url", "http://"+a.KVBM+"/metrics", "--results-dir", res, "--run-id", "arm64")
	if !strings.Contains(out, "valid: yes") {
		t.Fatalf("arm64 capture run not valid:\n%s", out)
	}
	m, err := results.ReadManifest(filepath.Join(res, "arm64"))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Tables[results.TableRequests].Rows; got != 2+6+8+6 {
		t.Errorf("arm64 bundle holds %d requests; want 22 (warmup 2, populate 6, thrash 8, replay 6)", got)
	}
	rep := filepath.Join(dir, "report")
	runCmd(t, 0, analyze, "report", res, "--out", rep)
	md, err := os.ReadFile(filepath.Join(rep, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| arm64 | B2 |", "replay"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report of the arm64 bundle lacks %q", want)
		}
	}
}
