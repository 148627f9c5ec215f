package telemetry

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/procfs"

	"kvbench/results"
)

func TestParseIOStat(t *testing.T) {
	got := ParseIOStat(append(readFixture(t, "cgroup/io.stat"), []byte("garbage line\n8:0 rbytes=x wbytes=5 newkey=7\n")...))
	want := []IOStatLine{
		{Dev: "259:0", RBytes: 2281701376, WBytes: 9663676416, RIOs: 69632, WIOs: 147456},
		{Dev: "7:1", RBytes: 1048576, RIOs: 256},
		{Dev: "8:0", WBytes: 5},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseIOStat (-want +got):\n%s", diff)
	}
}

// fakeRoots copies testdata/procfs into a temporary proc root and builds a
// sysfs with an NVMe disk (two partitions), a SATA disk, and the cgroup of
// container "dyn" (PID 4242).
func fakeRoots(t *testing.T) (proc, sys string) {
	t.Helper()
	root := t.TempDir()
	proc, sys = filepath.Join(root, "proc"), filepath.Join(root, "sys")
	copyTree(t, filepath.Join("testdata", "procfs"), proc)
	nvme := filepath.Join(sys, "devices", "pci0000:00", "0000:00:01.0", "nvme", "nvme0", "nvme0n1")
	sda := filepath.Join(sys, "devices", "platform", "ata1", "block", "sda")
	for _, d := range []string{filepath.Join(nvme, "nvme0n1p1"), filepath.Join(nvme, "nvme0n1p2"), sda, filepath.Join(sys, "dev", "block"), filepath.Join(sys, "class", "block")} {
		mkdir(t, d)
	}
	write(t, filepath.Join(nvme, "nvme0n1p1", "partition"), "1\n")
	write(t, filepath.Join(nvme, "nvme0n1p2", "partition"), "2\n")
	write(t, filepath.Join(sda, "dev"), "8:0\n")
	for majmin, target := range map[string]string{"259:0": nvme, "259:1": filepath.Join(nvme, "nvme0n1p1"), "259:2": filepath.Join(nvme, "nvme0n1p2"), "8:0": sda} {
		symlink(t, target, filepath.Join(sys, "dev", "block", majmin))
	}
	symlink(t, sda, filepath.Join(sys, "class", "block", "sda"))
	cg := filepath.Join(sys, "fs", "cgroup", "system.slice", "docker-3f9c1b2a7d4e.scope")
	mkdir(t, cg)
	write(t, filepath.Join(cg, "io.stat"), string(readFixture(t, "cgroup/io.stat")))
	return proc, sys
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, d string) {
	t.Helper()
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func TestResolveDevice(t *testing.T) {
	proc, sys := fakeRoots(t)
	fs, err := procfs.NewFS(proc)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, disk, part, err string
	}{
		{path: "/var/lib/kvbench-no-such-dir/kvbm", disk: "nvme0n1", part: "nvme0n1p2"},
		{path: "/boot/efi/kvbench-no-such-dir", disk: "nvme0n1", part: "nvme0n1p1"},
		{path: "/mnt/btrfs/kvbm", disk: "sda", part: "sda"}, // anonymous 0:45 → /dev/sda
		{path: "/tmp/kvbench-no-such-dir", err: "no block device"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			disk, part, err := ResolveDevice(fs, sys, tc.path)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("ResolveDevice(%s) = %s, %s, %v; want error %q", tc.path, disk, part, err, tc.err)
				}
				return
			}
			if err != nil || disk != tc.disk || part != tc.part {
				t.Errorf("ResolveDevice(%s) = %s, %s, %v; want %s, %s", tc.path, disk, part, err, tc.disk, tc.part)
			}
		})
	}
}

// TestIOSamplerFakeProcfs samples a fake /proc and /sys around a phase
// that writes 1 GiB and checks every scope's rows.
// Note: one workload with its before/after fixtures and the checks of
// each scope it moves; long by nature.
func TestIOSamplerFakeProcfs(t *testing.T) {
	proc, sys := fakeRoots(t)
	t.Setenv("KVBENCH_FAKE_PID", "4242")
	cmds := fakeCommands(t, "docker")
	s, err := NewIOSampler(IOOptions{
		ProcRoot: proc, SysRoot: sys, CacheDir: "/var/lib/kvbench-no-such-dir/kvbm",
		PIDs: []int{999}, Container: "dyn", Commands: cmds,
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := s.Open(context.Background(), dir, "r1"); err != nil {
		t.Fatal(err)
	}
	if got := s.devices; !cmp.Equal(got, []string{"nvme0n1"}) {
		t.Errorf("devices %v; want [nvme0n1] (disk of the cache dir)", got)
	}
	s.Mark(results.PhasePopulate, PointStart)
	// The workload: 1 GiB written to the disk and by the process.
	ds := string(readFixture(t, "procfs/diskstats"))
	ds = strings.Replace(ds, "21834412 8932018 3376118416", "21836460 8932018 3378215568", 1) // +2048 ops, +2097152 sectors
	write(t, filepath.Join(proc, "diskstats"), ds)
	pio := strings.Replace(string(readFixture(t, "procfs/4242/io")), "write_bytes: 134217728", "write_bytes: 1207959552", 1)
	write(t, filepath.Join(proc, "4242", "io"), pio)
	s.Mark(results.PhasePopulate, PointEnd)
	rep := s.Close()

	rows, err := results.ReadAll[results.IOSample](filepath.Join(dir, "io.parquet"), results.TableIO)
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]results.IOSample{}
	for _, r := range rows {
		by[r.Point+"/"+r.Scope+"/"+r.Target+"/"+r.Device] = r
	}
	cgPath := "/system.slice/docker-3f9c1b2a7d4e.scope"
	wantKeys := []string{
		"start/device/nvme0n1/nvme0n1", "end/device/nvme0n1/nvme0n1",
		"start/process/4242/", "end/process/4242/",
		"start/cgroup/" + cgPath + "/nvme0n1", "start/cgroup/" + cgPath + "/7:1",
		"end/cgroup/" + cgPath + "/nvme0n1", "end/cgroup/" + cgPath + "/7:1",
	}
	if len(rows) != len(wantKeys) {
		t.Errorf("%d rows; want %d: %v", len(rows), len(wantKeys), by)
	}
	for _, k := range wantKeys {
		if _, ok := by[k]; !ok {
			t.Errorf("no row %s", k)
		}
	}
	start, end := by["start/device/nvme0n1/nvme0n1"], by["end/device/nvme0n1/nvme0n1"]
	if start.ReadBytes != 1189745826*512 || start.WriteBytes != 3376118416*512 || *start.ReadOps != 8261944 ||
		*start.IOTimeNs != 9023376*1e6 || *start.InFlight != 0 || *start.WriteTimeNs != 24185334*1e6 {
		t.Errorf("device start row %+v does not match the diskstats fixture", start)
	}
	if d := end.WriteBytes - start.WriteBytes; d != 1<<30 {
		t.Errorf("device write delta %d; want %d", d, 1<<30)
	}
	if d := *end.WriteOps - *start.WriteOps; d != 2048 {
		t.Errorf("device write ops delta %d; want 2048", d)
	}
	ps, pe := by["start/process/4242/"], by["end/process/4242/"]
	if ps.ReadBytes != 4194304 || *ps.SyscallReadBytes != 18374620 || *ps.SyscallWrites != 9833 || ps.ReadOps != nil {
		t.Errorf("process row %+v does not match the /proc/4242/io fixture", ps)
	}
	if d := pe.WriteBytes - ps.WriteBytes; d != 1<<30 {
		t.Errorf("process write delta %d; want %d", d, 1<<30)
	}
	cg := by["end/cgroup/"+cgPath+"/nvme0n1"]
	if cg.ReadBytes != 2281701376 || cg.WriteBytes != 9663676416 || *cg.WriteOps != 147456 {
		t.Errorf("cgroup row %+v does not match the io.stat fixture", cg)
	}
	// PID 999 does not exist: one warning, not one per sample.
	n := 0
	for _, w := range rep.Warnings {
		if strings.Contains(w, "process 999") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("warnings %v; want exactly one about process 999", rep.Warnings)
	}
	facts := rep.Facts["io"].(map[string]any)
	if c := facts["container"].(map[string]any); c["pid"] != 4242 || c["cgroup"] != cgPath || c["runtime"] != "docker" {
		t.Errorf("container facts %v", c)
	}
	if facts["cache_dir_partition"] != "nvme0n1p2" {
		t.Errorf("cache_dir_partition %v; want nvme0n1p2", facts["cache_dir_partition"])
	}
}

func TestIOSamplerNothingToSample(t *testing.T) {
	proc, sys := fakeRoots(t)
	s, err := NewIOSampler(IOOptions{ProcRoot: proc, SysRoot: sys, CacheDir: "/tmp/kvbench-no-such-dir"})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Open(context.Background(), t.TempDir(), "r")
	if err == nil || !strings.Contains(err.Error(), "no block device") {
		t.Errorf("Open = %v; want an error naming the unresolvable cache dir", err)
	}
	for _, bad := range []IOOptions{{Container: "--privileged"}, {PIDs: []int{-1}}, {Devices: []string{"../../etc"}}} {
		if _, err := NewIOSampler(bad); err == nil {
			t.Errorf("NewIOSampler(%+v) accepted bad input", bad)
		}
	}
}
