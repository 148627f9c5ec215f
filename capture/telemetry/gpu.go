package telemetry

import (
	"bufio"
	"context"
	"fmt"
	"io"
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
	durable

	cancel context.CancelFunc
	wait   func() error
	done   chan struct{}

	rows atomic.Int64 // lines stored (tests wait for them)

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

// Open implements Sampler: nvidia-smi runs until Close or until ctx is
// cancelled.
func (s *GPUSampler) Open(ctx context.Context, dir, runID string) error {
	ctx, cancel := context.WithCancel(ctx)
	r, wait, err := s.cmds.Stream(ctx, "nvidia-smi", "--query-gpu="+GPUQuery,
		"--format=csv,noheader,nounits", "-lms", strconv.FormatInt(s.interval.Milliseconds(), 10))
	if err != nil {
		cancel()
		return err
	}
	out, err := newSink[results.GPUSample](dir, results.TableGPU, s.durability)
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
func (s *GPUSampler) Close() Report {
	rep := Report{Tables: map[string]results.TableInfo{}}
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
	if info, err := s.out.closeInto(&rep, "gpu", results.TableGPU); err == nil && info.Rows == 0 {
		rep.Warnings = append(rep.Warnings, "gpu: nvidia-smi printed no samples")
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
