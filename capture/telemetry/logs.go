package telemetry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"kvbench/results"
)

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
	ctx   context.Context
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

// Open implements Sampler. The logs are collected at Close with ctx: an
// interrupted run skips them rather than wait on a container runtime.
func (s *LogSampler) Open(ctx context.Context, dir, _ string) error {
	s.ctx, s.dir, s.since = ctx, dir, time.Now().Add(-time.Minute)
	return os.MkdirAll(filepath.Join(dir, "telemetry"), 0o755)
}

// Mark implements Sampler.
func (s *LogSampler) Mark(string, string) {}

// Close implements Sampler: it collects the logs.
func (s *LogSampler) Close() Report {
	ctx := s.ctx
	if ctx.Err() != nil {
		s.warn("not collected: the run was interrupted")
		return Report{Warnings: s.warns}
	}
	since := s.since.UTC().Format(time.RFC3339)
	if c := s.opts.Container; c != "" {
		s.containerLogs(ctx, c, "container_"+c+".log", since)
		s.cufileLogs(ctx, c)
	}
	if c := s.opts.NATSContainer; c != "" {
		s.containerLogs(ctx, c, "nats_"+c+".log", since)
	}
	return Report{Warnings: s.warns}
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
