package capture

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"kvbench/results"
)

// GPUQuery is the nvidia-smi field list sampled into the gpu table, in
// column order.
const GPUQuery = "timestamp,index,utilization.gpu,memory.used,memory.total,power.draw,temperature.gpu"

// GPUSampler runs `nvidia-smi --query-gpu=... -lms N` for the whole run
// and stores every line in the gpu table. Best effort: a missing
// nvidia-smi makes Open fail, which the runner records as a warning.
type GPUSampler struct {
	interval time.Duration
	cmds     *Commands

	runID string
	out   *sink[results.GPUSample]

	cancel context.CancelFunc
	wait   func() error
	done   chan struct{}

	rows atomic.Int64 // lines stored, for tests and progress

	mu    sync.Mutex
	phase string
	bad   int
	first string // first unparsable line
}

// NewGPUSampler samples every interval (at least 100 ms).
func NewGPUSampler(cmds *Commands, interval time.Duration) *GPUSampler {
	if cmds == nil {
		cmds = &Commands{}
	}
	return &GPUSampler{interval: max(interval, 100*time.Millisecond), cmds: cmds}
}

// Name implements Sampler.
func (s *GPUSampler) Name() string { return "gpu" }

// Open implements Sampler.
func (s *GPUSampler) Open(dir, runID string) error {
	ctx, cancel := context.WithCancel(context.Background())
	r, wait, err := s.cmds.Stream(ctx, "nvidia-smi", "--query-gpu="+GPUQuery,
		"--format=csv,noheader,nounits", "-lms", strconv.FormatInt(s.interval.Milliseconds(), 10))
	if err != nil {
		cancel()
		return err
	}
	out, err := newSink[results.GPUSample](dir, results.TableGPU)
	if err != nil {
		cancel()
		wait()
		return err
	}
	s.runID, s.out, s.cancel, s.wait, s.done = runID, out, cancel, wait, make(chan struct{})
	go s.read(r)
	return nil
}

func (s *GPUSampler) read(r io.Reader) {
	defer close(s.done)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		s.mu.Lock()
		phase := s.phase
		s.mu.Unlock()
		row, err := ParseGPULine(line)
		if err != nil {
			s.mu.Lock()
			if s.bad == 0 {
				s.first = line
			}
			s.bad++
			s.mu.Unlock()
			continue
		}
		row.RunID, row.SampleUnixNs, row.Phase, row.Point = s.runID, time.Now().UnixNano(), phase, PointInterval
		s.out.put([]results.GPUSample{row})
		s.rows.Add(1)
	}
	io.Copy(io.Discard, r) // let the process finish writing
}

// Mark implements Sampler: GPU lines are attributed to the phase most
// recently marked.
func (s *GPUSampler) Mark(phase, _ string) {
	s.mu.Lock()
	s.phase = phase
	s.mu.Unlock()
}

// Close implements Sampler.
func (s *GPUSampler) Close() SamplerReport {
	rep := SamplerReport{Tables: map[string]results.TableInfo{}}
	if s.out == nil {
		return rep
	}
	s.cancel()
	// Wait closes the pipe once the process is gone, so the reader ends
	// even if something else still held the pipe open.
	if err := s.wait(); err != nil {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("gpu: %v", err))
	}
	<-s.done
	info, err := s.out.close()
	if err != nil {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("gpu: %v", err))
	} else {
		rep.Tables[results.TableGPU] = info
		if info.Rows == 0 {
			rep.Warnings = append(rep.Warnings, "gpu: nvidia-smi printed no samples")
		}
	}
	if s.bad > 0 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("gpu: %d nvidia-smi lines not understood, first: %q", s.bad, s.first))
	}
	return rep
}

// ParseGPULine parses one line of `nvidia-smi --query-gpu=GPUQuery
// --format=csv,noheader,nounits`, e.g.
// "2026/02/08 12:00:01.123, 0, 87, 1024, 8192, 45.20, 61".
// "[N/A]", "[Not Supported]" and empty fields become nil; MiB become bytes.
func ParseGPULine(line string) (results.GPUSample, error) {
	f := strings.Split(line, ",")
	if len(f) != 7 {
		return results.GPUSample{}, fmt.Errorf("nvidia-smi line %q: %d fields, want 7", line, len(f))
	}
	for i := range f {
		f[i] = strings.TrimSpace(f[i])
	}
	idx, err := strconv.Atoi(f[1])
	if err != nil {
		return results.GPUSample{}, fmt.Errorf("nvidia-smi line %q: index: %w", line, err)
	}
	num := func(s string) *float64 {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil
		}
		return &v
	}
	mib := func(s string) *int64 {
		v := num(s)
		if v == nil {
			return nil
		}
		return results.Ptr(int64(*v * (1 << 20)))
	}
	return results.GPUSample{
		GPUTimestamp: f[0], GPUIndex: int32(idx), UtilizationPct: num(f[2]),
		MemoryUsedBytes: mib(f[3]), MemoryTotalBytes: mib(f[4]), PowerDrawWatts: num(f[5]), TemperatureC: num(f[6]),
	}, nil
}

// LogOptions configures the log collector.
type LogOptions struct {
	Container     string // engine container (docker logs, cuFile logs)
	NATSContainer string // NATS container (docker logs)
	// MaxBytes caps each saved log (DefaultLogMaxBytes when <= 0).
	MaxBytes int64
	Commands *Commands
}

// DefaultLogMaxBytes caps each log file saved under telemetry/.
const DefaultLogMaxBytes = 32 << 20

// LogSampler saves container logs, NATS logs and the container's cuFile
// logs under telemetry/ when the run ends, limited to the run's time window
// and size-capped. Best effort: every failure is a warning.
type LogSampler struct {
	opts  LogOptions
	dir   string
	since time.Time
	warns []string
}

// NewLogSampler checks the container names.
func NewLogSampler(opts LogOptions) (*LogSampler, error) {
	for _, n := range []string{opts.Container, opts.NATSContainer} {
		if n != "" && !ValidContainerName(n) {
			return nil, fmt.Errorf("container name %q: want letters, digits, '_', '.', '-' and no leading '-'", n)
		}
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultLogMaxBytes
	}
	if opts.Commands == nil {
		opts.Commands = &Commands{}
	}
	return &LogSampler{opts: opts}, nil
}

// Name implements Sampler.
func (s *LogSampler) Name() string { return "logs" }

// Open implements Sampler.
func (s *LogSampler) Open(dir, _ string) error {
	s.dir, s.since = dir, time.Now().Add(-time.Minute)
	return os.MkdirAll(filepath.Join(dir, "telemetry"), 0o755)
}

// Mark implements Sampler.
func (s *LogSampler) Mark(string, string) {}

// Close implements Sampler: it collects the logs.
func (s *LogSampler) Close() SamplerReport {
	ctx := context.Background()
	since := s.since.UTC().Format(time.RFC3339)
	if c := s.opts.Container; c != "" {
		s.containerLogs(ctx, c, "container_"+c+".log", since)
		s.cufileLogs(ctx, c)
	}
	if c := s.opts.NATSContainer; c != "" {
		s.containerLogs(ctx, c, "nats_"+c+".log", since)
	}
	return SamplerReport{Warnings: s.warns}
}

func (s *LogSampler) warn(format string, a ...any) {
	s.warns = append(s.warns, fmt.Sprintf("logs: "+format, a...))
}

// runtime runs a container runtime command: docker, or podman when docker
// is not installed.
func (s *LogSampler) runtime(ctx context.Context, combined bool, args ...string) (CmdResult, error) {
	run := s.opts.Commands.Run
	if combined {
		run = s.opts.Commands.RunCombined
	}
	res, err := run(ctx, 30*time.Second, s.opts.MaxBytes, "docker", args...)
	if err != nil && isMissing(err) {
		return run(ctx, 30*time.Second, s.opts.MaxBytes, "podman", args...)
	}
	return res, err
}

func (s *LogSampler) containerLogs(ctx context.Context, container, file, since string) {
	res, err := s.runtime(ctx, true, "logs", "--timestamps", "--since", since, container)
	if err != nil {
		// The output is the runtime's complaint, not the container's log.
		s.warn("%s: %v: %s", container, err, firstLine(string(res.Stdout)))
		return
	}
	s.save(file, res)
}

// firstLine returns the first non-empty line of s, trimmed.
func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}

// cufileLogs finds cufile*.log files in the container (find takes the
// pattern as an argument; no shell expands it) and copies each out,
// together with /etc/cufile.json when present.
func (s *LogSampler) cufileLogs(ctx context.Context, container string) {
	res, err := s.runtime(ctx, false, "exec", container, "find", "/", "-xdev", "-maxdepth", "4",
		"-type", "f", "-name", "cufile*.log")
	paths := strings.Fields(string(res.Stdout))
	if err != nil && len(paths) == 0 {
		s.warn("%s: looking for cuFile logs: %v: %s", container, err, firstLine(res.Stderr))
		return
	}
	if len(paths) == 0 {
		s.warn("%s: no cufile*.log in the container", container)
	}
	if len(paths) > 8 {
		paths = paths[:8]
	}
	for _, p := range append(paths, "/etc/cufile.json") {
		if !strings.HasPrefix(p, "/") {
			continue
		}
		res, err := s.runtime(ctx, false, "exec", container, "cat", "--", p)
		if err != nil {
			if p != "/etc/cufile.json" {
				s.warn("%s: %s: %v: %s", container, p, err, firstLine(res.Stderr))
			}
			continue
		}
		s.save(filepath.Join("cufile", fileSafe(strings.TrimPrefix(p, "/"))), res)
	}
}

func (s *LogSampler) save(rel string, res CmdResult) {
	path := filepath.Join(s.dir, "telemetry", rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		s.warn("%v", err)
		return
	}
	if err := results.WriteFileAtomic(path, res.Stdout); err != nil {
		s.warn("write %s: %v", rel, err)
		return
	}
	if res.Truncated {
		s.warn("telemetry/%s cut at %d bytes", rel, s.opts.MaxBytes)
	}
}

func isMissing(err error) bool { return errors.Is(err, ErrToolMissing) }
