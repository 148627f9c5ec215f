package telemetry

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/procfs"
	"github.com/prometheus/procfs/blockdevice"

	"kvbench/results"
)

// IOOptions configures the OS I/O sampler.
type IOOptions struct {
	// ProcRoot and SysRoot are the proc and sys mount points ("/proc" and
	// "/sys" when empty); tests point them at fake trees.
	ProcRoot, SysRoot string
	// Devices are block device names (nvme0n1) or /dev paths. When empty
	// the whole disk holding CacheDir is used.
	Devices  []string
	CacheDir string
	// PIDs are processes whose /proc/<pid>/io is sampled.
	PIDs []int
	// Container is a container name whose main PID is sampled (process
	// scope) together with its cgroup v2 io.stat (cgroup scope).
	Container string
	// Interval between periodic samples; 0 samples at boundaries only.
	Interval time.Duration
	// Commands runs the container runtime's inspect command.
	Commands *Commands
}

// IOSampler samples block devices, processes and a container's cgroup into
// the io table, as cumulative counters.
type IOSampler struct {
	opts IOOptions
	durable

	proc procfs.FS
	blk  blockdevice.FS

	devices []string
	pids    []int
	cgroups []string // absolute io.stat paths' directories, relative names in cgNames
	cgNames []string
	devName map[string]string // "maj:min" → device name

	runID string
	out   *sink[results.IOSample]
	facts map[string]any

	periodic

	sampleMu sync.Mutex

	mu    sync.Mutex
	warns []string
	seen  map[string]int // warning key → occurrences
}

// NewIOSampler returns an I/O sampler; nothing is read until Open.
func NewIOSampler(opts IOOptions) (*IOSampler, error) {
	if opts.ProcRoot == "" {
		opts.ProcRoot = "/proc"
	}
	if opts.SysRoot == "" {
		opts.SysRoot = "/sys"
	}
	if opts.Container != "" && !ValidContainerName(opts.Container) {
		return nil, fmt.Errorf("container name %q: want letters, digits, '_', '.', '-' and no leading '-'", opts.Container)
	}
	for _, p := range opts.PIDs {
		if p <= 0 {
			return nil, fmt.Errorf("io pid %d: want a positive process id", p)
		}
	}
	for _, d := range opts.Devices {
		if deviceName(d) == "" {
			return nil, fmt.Errorf("io device %q: want a device name such as nvme0n1 or /dev/nvme0n1", d)
		}
	}
	if opts.Commands == nil {
		opts.Commands = &Commands{}
	}
	return &IOSampler{opts: opts, devName: map[string]string{}, seen: map[string]int{}, facts: map[string]any{}}, nil
}

// deviceName turns nvme0n1 or /dev/nvme0n1 into nvme0n1 ("" if invalid).
func deviceName(d string) string {
	name := strings.TrimPrefix(d, "/dev/")
	if name == "" || strings.ContainsAny(name, "/ \t\n") || name[0] == '-' || name == "." || name == ".." {
		return ""
	}
	return name
}

// Name implements Sampler.
func (s *IOSampler) Name() string { return "io" }

// Open implements Sampler: it resolves the devices, the container's PID
// and cgroup, creates the io table and starts interval sampling.
func (s *IOSampler) Open(ctx context.Context, dir, runID string) error {
	var err error
	if s.proc, err = procfs.NewFS(s.opts.ProcRoot); err != nil {
		return fmt.Errorf("procfs %s: %w", s.opts.ProcRoot, err)
	}
	if s.blk, err = blockdevice.NewFS(s.opts.ProcRoot, s.opts.SysRoot); err != nil {
		return fmt.Errorf("blockdevice %s %s: %w", s.opts.ProcRoot, s.opts.SysRoot, err)
	}
	for _, d := range s.opts.Devices {
		s.devices = append(s.devices, deviceName(d))
	}
	if len(s.devices) > 0 {
		s.facts["devices_from"] = "--io-device"
	} else if s.opts.CacheDir != "" {
		disk, part, err := ResolveDevice(s.proc, s.opts.SysRoot, s.opts.CacheDir)
		if err != nil {
			s.warn("resolve", fmt.Sprintf("io: no block device for --kvbm-cache-dir %s: %v", s.opts.CacheDir, err))
		} else {
			s.devices = []string{disk}
			s.facts["devices_from"] = "--kvbm-cache-dir " + s.opts.CacheDir
			s.facts["cache_dir_partition"] = part
		}
	}
	if len(s.devices) > 0 {
		s.facts["devices"] = s.devices
	}
	s.pids = append(s.pids, s.opts.PIDs...)
	if s.opts.Container != "" {
		s.openContainer(ctx)
	}
	if len(s.pids) > 0 {
		s.facts["pids"] = s.pids
	}
	if len(s.devices)+len(s.pids)+len(s.cgroups) == 0 {
		msg := "nothing to sample (no device, process or container)"
		if len(s.warns) > 0 {
			msg += ": " + strings.Join(s.warns, "; ")
		}
		return errors.New(msg)
	}
	s.out, err = newSink[results.IOSample](dir, results.TableIO, s.durability)
	if err != nil {
		return err
	}
	s.runID = runID
	s.start(ctx, s.opts.Interval, s.sample)
	return nil
}

func (s *IOSampler) openContainer(ctx context.Context) {
	pid, runtime, err := ContainerPID(ctx, s.opts.Commands, s.opts.Container)
	if err != nil {
		s.warn("container", fmt.Sprintf("io: container %s: %v", s.opts.Container, err))
		return
	}
	c := map[string]any{"name": s.opts.Container, "pid": pid, "runtime": runtime}
	s.facts["container"] = c
	s.pids = append(s.pids, pid)
	p, err := s.proc.Proc(pid)
	if err != nil {
		s.warn("cgroup", fmt.Sprintf("io: container %s pid %d: %v", s.opts.Container, pid, err))
		return
	}
	cgs, err := p.Cgroups()
	if err != nil {
		s.warn("cgroup", fmt.Sprintf("io: container %s pid %d cgroup: %v", s.opts.Container, pid, err))
		return
	}
	for _, cg := range cgs {
		if cg.HierarchyID != 0 {
			continue
		}
		ioStat := filepath.Join(s.opts.SysRoot, "fs", "cgroup", filepath.Clean("/"+cg.Path), "io.stat")
		if _, err := os.Stat(ioStat); err != nil {
			s.warn("cgroup", fmt.Sprintf("io: container %s: cgroup v2 io.stat: %v", s.opts.Container, err))
			return
		}
		s.cgroups = append(s.cgroups, ioStat)
		s.cgNames = append(s.cgNames, cg.Path)
		c["cgroup"] = cg.Path
		return
	}
	s.warn("cgroup", fmt.Sprintf("io: container %s pid %d: no cgroup v2 entry (cgroup v1 has no io.stat)", s.opts.Container, pid))
}

// ContainerPID finds the main PID of a container with `docker inspect`,
// falling back to `podman inspect`. The name is validated and passed as one
// argument; no shell is involved.
func ContainerPID(ctx context.Context, cmds *Commands, name string) (int, string, error) {
	if !ValidContainerName(name) {
		return 0, "", fmt.Errorf("container name %q is not valid", name)
	}
	var errs []string
	for _, rt := range []string{"docker", "podman"} {
		res, err := cmds.Run(ctx, 0, 4096, rt, "inspect", "-f", "{{.State.Pid}}", name)
		if err != nil {
			msg := err.Error()
			if l := firstLine(res.Stderr); l != "" {
				msg += ": " + l
			}
			errs = append(errs, msg)
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(res.Stdout)))
		if err != nil || pid <= 0 {
			errs = append(errs, fmt.Sprintf("%s inspect: pid %q (container not running?)", rt, strings.TrimSpace(string(res.Stdout))))
			continue
		}
		return pid, rt, nil
	}
	return 0, "", errors.New(strings.Join(errs, "; "))
}

// ResolveDevice finds the whole-disk block device holding path: the mount
// with the longest matching mount point in /proc/self/mountinfo gives the
// device number (or, for filesystems with anonymous device numbers such as
// btrfs, the /dev source), and sysfs maps a partition to its parent disk.
// It returns the disk and the partition (equal when not partitioned).
func ResolveDevice(fs procfs.FS, sysRoot, path string) (disk, part string, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", "", err
	}
	// The directory may not exist yet (KVBM creates it): walk up.
	for p := abs; ; p = filepath.Dir(p) {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			abs = filepath.Join(r, strings.TrimPrefix(abs, p))
			break
		}
		if p == "/" || p == "." {
			break
		}
	}
	mounts, err := fs.GetMounts()
	if err != nil {
		return "", "", fmt.Errorf("mountinfo: %w", err)
	}
	var best *procfs.MountInfo
	for _, m := range mounts {
		mp := m.MountPoint
		if abs == mp || mp == "/" || strings.HasPrefix(abs, strings.TrimSuffix(mp, "/")+"/") {
			if best == nil || len(mp) >= len(best.MountPoint) {
				best = m
			}
		}
	}
	if best == nil {
		return "", "", fmt.Errorf("no mount holds %s", abs)
	}
	majmin := best.MajorMinorVer
	if strings.HasPrefix(majmin, "0:") {
		src := best.Source
		if !strings.HasPrefix(src, "/dev/") {
			return "", "", fmt.Errorf("%s is on %s (%s), which has no block device", abs, best.MountPoint, best.FSType)
		}
		if r, err := filepath.EvalSymlinks(src); err == nil {
			src = r
		}
		b, err := os.ReadFile(filepath.Join(sysRoot, "class", "block", filepath.Base(src), "dev"))
		if err != nil {
			return "", "", fmt.Errorf("%s is on %s (%s): %w", abs, src, best.FSType, err)
		}
		majmin = strings.TrimSpace(string(b))
	}
	return diskOf(sysRoot, majmin)
}

// diskOf maps a device number to its whole disk through /sys/dev/block.
func diskOf(sysRoot, majmin string) (disk, part string, err error) {
	link := filepath.Join(sysRoot, "dev", "block", majmin)
	dir, err := filepath.EvalSymlinks(link)
	if err != nil {
		return "", "", fmt.Errorf("device %s: %w", majmin, err)
	}
	part = filepath.Base(dir)
	if _, err := os.Stat(filepath.Join(dir, "partition")); err == nil {
		return filepath.Base(filepath.Dir(dir)), part, nil
	}
	return part, part, nil
}

// Mark implements Sampler.
func (s *IOSampler) Mark(phase, point string) {
	s.mark(phase, point)
}

func (s *IOSampler) sample(phase, point string) {
	s.sampleMu.Lock() // Mark and the interval loop may overlap
	defer s.sampleMu.Unlock()
	now := time.Now().UnixNano()
	base := results.IOSample{RunID: s.runID, SampleUnixNs: now, Phase: phase, Point: point}
	var rows []results.IOSample
	if len(s.devices) > 0 {
		stats, err := s.blk.ProcDiskstats()
		if err != nil {
			s.warn("diskstats", fmt.Sprintf("io: %s/diskstats: %v", s.opts.ProcRoot, err))
		}
		for _, dev := range s.devices {
			found := false
			for _, d := range stats {
				if d.DeviceName != dev {
					continue
				}
				found = true
				r := base
				r.Scope, r.Target, r.Device = results.IOScopeDevice, dev, dev
				r.ReadBytes, r.WriteBytes = int64(d.ReadSectors)*512, int64(d.WriteSectors)*512
				r.ReadOps, r.WriteOps = i64p(d.ReadIOs), i64p(d.WriteIOs)
				r.IOTimeNs = i64p(d.IOsTotalTicks * 1e6)
				r.ReadTimeNs, r.WriteTimeNs = i64p(d.ReadTicks*1e6), i64p(d.WriteTicks*1e6)
				r.InFlight = i64p(d.IOsInProgress)
				rows = append(rows, r)
				break
			}
			if !found && err == nil {
				s.warn("device "+dev, fmt.Sprintf("io: device %s not in %s/diskstats", dev, s.opts.ProcRoot))
			}
		}
	}
	for _, pid := range s.pids {
		pio, err := s.procIO(pid)
		if err != nil {
			s.warn("pid "+strconv.Itoa(pid), fmt.Sprintf("io: process %d: %v", pid, err))
			continue
		}
		r := base
		r.Scope, r.Target = results.IOScopeProcess, strconv.Itoa(pid)
		r.ReadBytes, r.WriteBytes = int64(pio.ReadBytes), int64(pio.WriteBytes)
		r.SyscallReadBytes, r.SyscallWriteBytes = i64p(pio.RChar), i64p(pio.WChar)
		r.SyscallReads, r.SyscallWrites = i64p(pio.SyscR), i64p(pio.SyscW)
		rows = append(rows, r)
	}
	for i, path := range s.cgroups {
		data, err := os.ReadFile(path)
		if err != nil {
			s.warn("cgroup "+path, fmt.Sprintf("io: %v", err))
			continue
		}
		for _, l := range ParseIOStat(data) {
			r := base
			r.Scope, r.Target, r.Device = results.IOScopeCgroup, s.cgNames[i], s.deviceFor(l.Dev)
			r.ReadBytes, r.WriteBytes = l.RBytes, l.WBytes
			r.ReadOps, r.WriteOps = results.Ptr(l.RIOs), results.Ptr(l.WIOs)
			rows = append(rows, r)
		}
	}
	s.out.put(rows)
}

func (s *IOSampler) procIO(pid int) (procfs.ProcIO, error) {
	p, err := s.proc.Proc(pid)
	if err != nil {
		return procfs.ProcIO{}, err
	}
	return p.IO()
}

// deviceFor names a "maj:min" device through /sys/dev/block; the number
// itself when sysfs does not know it.
func (s *IOSampler) deviceFor(majmin string) string {
	if n, ok := s.devName[majmin]; ok {
		return n
	}
	n := majmin
	if dir, err := filepath.EvalSymlinks(filepath.Join(s.opts.SysRoot, "dev", "block", majmin)); err == nil {
		n = filepath.Base(dir)
	}
	s.devName[majmin] = n
	return n
}

// IOStatLine is one device line of a cgroup v2 io.stat file.
type IOStatLine struct {
	Dev                        string // "maj:min"
	RBytes, WBytes, RIOs, WIOs int64
	DBytes, DIOs               int64
}

// ParseIOStat parses cgroup v2 io.stat ("259:0 rbytes=1 wbytes=2 rios=3
// wios=4 dbytes=0 dios=0" per line). Unknown keys are ignored and
// malformed fields skipped, as newer kernels add keys.
func ParseIOStat(data []byte) []IOStatLine {
	var out []IOStatLine
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || !strings.Contains(fields[0], ":") {
			continue
		}
		l := IOStatLine{Dev: fields[0]}
		keys := map[string]*int64{"rbytes": &l.RBytes, "wbytes": &l.WBytes, "rios": &l.RIOs, "wios": &l.WIOs,
			"dbytes": &l.DBytes, "dios": &l.DIOs}
		for _, f := range fields[1:] {
			k, v, _ := strings.Cut(f, "=")
			if dst, ok := keys[k]; ok {
				if n, err := strconv.ParseInt(v, 10, 64); err == nil {
					*dst = n
				}
			}
		}
		out = append(out, l)
	}
	return out
}

func i64p[T ~uint64 | ~int64](v T) *int64 { x := int64(v); return &x }

// warn records a warning once per key and counts repeats.
func (s *IOSampler) warn(key, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen[key] == 0 {
		s.warns = append(s.warns, msg)
	}
	s.seen[key]++
}

// Close implements Sampler.
func (s *IOSampler) Close() Report {
	if s.out == nil {
		return Report{Warnings: s.warns}
	}
	s.stop()
	var rep Report
	s.out.closeInto(&rep, "io", results.TableIO)
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.seen))
	for k, n := range s.seen {
		if n > 1 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	rep.Warnings = append(rep.Warnings, s.warns...)
	for _, k := range keys {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("io: %s: the warning above repeated %d times", k, s.seen[k]))
	}
	rep.Facts = map[string]any{"io": s.facts}
	return rep
}
