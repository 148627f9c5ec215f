package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"kvbench/results"
)

// External commands (docker, podman, nvme, smartctl, nvidia-smi) run
// without a shell: the program and its arguments are a list, so a container
// name or a path is one argument and can never become a second command.
// Values that could be mistaken for options are refused before that (see
// ValidContainerName and validDevicePath). Every run is recorded: argv,
// exit status, duration, a capped stderr, and whether it timed out.

// CommandsFile is where the command log goes inside the bundle.
const CommandsFile = "telemetry/commands.jsonl"

// DefaultCommandTimeout bounds a one-shot external command.
const DefaultCommandTimeout = 10 * time.Second

const maxStderrKept = 4 << 10

// CmdRecord is one line of telemetry/commands.jsonl.
type CmdRecord struct {
	Argv        []string `json:"argv"`
	StartUnixNs int64    `json:"start_unix_ns"`
	DurationNs  int64    `json:"duration_ns"`
	// ExitCode is the process exit status; -1 when it did not start or was
	// killed by a signal.
	ExitCode    int    `json:"exit_code"`
	TimedOut    bool   `json:"timed_out,omitempty"`
	Error       string `json:"error,omitempty"`
	Stderr      string `json:"stderr,omitempty"`
	StdoutBytes int64  `json:"stdout_bytes"`
	// StdoutTruncated is set when more than the caller's cap was printed.
	StdoutTruncated bool `json:"stdout_truncated,omitempty"`
}

// Commands runs external commands and keeps a record of each. It is safe
// for concurrent use.
type Commands struct {
	// LookPath resolves a program name (exec.LookPath when nil); tests
	// substitute it to simulate a missing tool.
	LookPath func(string) (string, error)

	mu      sync.Mutex
	records []CmdRecord
}

// ErrToolMissing is wrapped when a program is not installed.
var ErrToolMissing = errors.New("not installed")

// CmdResult is what a finished command produced.
type CmdResult struct {
	Stdout    []byte // at most the cap passed to Run
	Truncated bool
	ExitCode  int
	Stderr    string
}

// Run runs name with args, waits at most timeout (DefaultCommandTimeout
// when <= 0), keeps at most maxStdout bytes of standard output (64 MiB when
// <= 0) and records the run. The error is non-nil when the program is
// missing, could not start, timed out or exited non-zero; the result holds
// whatever was printed in every case.
func (c *Commands) Run(ctx context.Context, timeout time.Duration, maxStdout int64, name string, args ...string) (CmdResult, error) {
	return c.run(ctx, timeout, maxStdout, false, name, args...)
}

// RunCombined is Run with standard error interleaved into Stdout, for
// commands whose output is a log on both streams (docker logs).
func (c *Commands) RunCombined(ctx context.Context, timeout time.Duration, maxOut int64, name string, args ...string) (CmdResult, error) {
	return c.run(ctx, timeout, maxOut, true, name, args...)
}

func (c *Commands) run(ctx context.Context, timeout time.Duration, maxStdout int64, combined bool, name string, args ...string) (CmdResult, error) {
	if timeout <= 0 {
		timeout = DefaultCommandTimeout
	}
	if maxStdout <= 0 {
		maxStdout = 64 << 20
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd, rec, err := c.command(cctx, name, args)
	if err != nil {
		return CmdResult{ExitCode: -1}, err
	}
	out := &capWriter{max: maxStdout}
	errb := &capWriter{max: maxStderrKept}
	cmd.Stdout, cmd.Stderr = out, errb
	if combined {
		cmd.Stderr = out
	}
	cmd.WaitDelay = time.Second
	start := time.Now()
	err = cmd.Run()
	rec.DurationNs = time.Since(start).Nanoseconds()
	res := CmdResult{Stdout: out.buf.Bytes(), Truncated: out.n > out.max, ExitCode: -1, Stderr: errb.buf.String()}
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
	}
	rec.ExitCode, rec.Stderr, rec.StdoutBytes, rec.StdoutTruncated = res.ExitCode, res.Stderr, out.n, res.Truncated
	if cctx.Err() == context.DeadlineExceeded {
		rec.TimedOut = true
		err = fmt.Errorf("%s: timed out after %s", name, timeout)
	} else if err != nil {
		err = fmt.Errorf("%s: %w", name, err)
	}
	if err != nil {
		rec.Error = err.Error()
	}
	c.add(*rec)
	return res, err
}

// command resolves name and returns its command with a started record. A
// missing program is recorded and returned as ErrToolMissing.
func (c *Commands) command(ctx context.Context, name string, args []string) (*exec.Cmd, *CmdRecord, error) {
	rec := &CmdRecord{Argv: append([]string{name}, args...), StartUnixNs: time.Now().UnixNano(), ExitCode: -1}
	path, err := c.lookPath(name)
	if err != nil {
		return nil, nil, c.failed(rec, fmt.Errorf("%s: %w", name, ErrToolMissing))
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Args[0] = name
	return cmd, rec, nil
}

// failed records a command that could not run and returns err.
func (c *Commands) failed(rec *CmdRecord, err error) error {
	rec.Error = err.Error()
	c.add(*rec)
	return err
}

// Stream starts a long-running command whose standard output the caller
// reads line by line (nvidia-smi -lms). The returned wait function stops
// the command (cancel ctx first), waits for it and records the run.
func (c *Commands) Stream(ctx context.Context, name string, args ...string) (io.Reader, func() error, error) {
	cmd, rec, err := c.command(ctx, name, args)
	if err != nil {
		return nil, nil, err
	}
	errb := &capWriter{max: maxStderrKept}
	cmd.Stderr = errb
	cmd.WaitDelay = 2 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, nil, c.failed(rec, fmt.Errorf("%s: %w", name, err))
	}
	cr := &countReader{r: stdout}
	wait := func() error {
		err := cmd.Wait()
		rec.DurationNs = time.Since(start).Nanoseconds()
		if cmd.ProcessState != nil {
			rec.ExitCode = cmd.ProcessState.ExitCode()
		}
		rec.Stderr, rec.StdoutBytes = errb.buf.String(), cr.n.Load()
		if ctx.Err() != nil {
			// Stopped by us: a signal exit is the expected end.
			err = nil
		}
		if err != nil {
			err = fmt.Errorf("%s: %w", name, err)
			rec.Error = err.Error()
		}
		c.add(*rec)
		return err
	}
	return cr, wait, nil
}

func (c *Commands) lookPath(name string) (string, error) {
	if c.LookPath != nil {
		return c.LookPath(name)
	}
	return exec.LookPath(name)
}

func (c *Commands) add(r CmdRecord) {
	c.mu.Lock()
	c.records = append(c.records, r)
	c.mu.Unlock()
}

// Records returns a copy of the records so far.
func (c *Commands) Records() []CmdRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]CmdRecord(nil), c.records...)
}

// WriteLog writes the records as JSON lines to dir/telemetry/commands.jsonl.
func (c *Commands) WriteLog(dir string) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, r := range c.Records() {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	path := filepath.Join(dir, CommandsFile)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return results.WriteFileAtomic(path, b.Bytes())
}

// capWriter keeps the first max bytes and counts the rest.
type capWriter struct {
	buf bytes.Buffer
	max int64
	n   int64
}

func (w *capWriter) Write(p []byte) (int, error) {
	if room := w.max - int64(w.buf.Len()); room > 0 {
		w.buf.Write(p[:min(int64(len(p)), room)])
	}
	w.n += int64(len(p))
	return len(p), nil
}

// countReader counts bytes read; the count may be read while another
// goroutine reads.
type countReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// containerNameRE is Docker's own rule for container names; it also keeps
// out anything that starts with '-' and could pass for an option.
var containerNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}$`)

// ValidContainerName reports whether name is a plausible container name
// or id.
func ValidContainerName(name string) bool { return containerNameRE.MatchString(name) }

// devicePathRE accepts /dev/<name> paths only.
var devicePathRE = regexp.MustCompile(`^/dev/[a-zA-Z0-9][a-zA-Z0-9_.:/-]*$`)

func validDevicePath(p string) bool { return devicePathRE.MatchString(p) && filepath.Clean(p) == p }

// commandsLog is the sampler that writes telemetry/commands.jsonl on
// Close; it goes last in the sampler list so it sees every command.
type commandsLog struct {
	cmds *Commands
	dir  string
}

// NewCommandsLog returns a sampler that writes the command log of cmds
// into the bundle when the run ends. Append it after the samplers that
// use cmds.
func NewCommandsLog(cmds *Commands) Sampler { return &commandsLog{cmds: cmds} }

func (l *commandsLog) Name() string { return "commands" }

func (l *commandsLog) Open(_ context.Context, dir, _ string) error { l.dir = dir; return nil }

func (l *commandsLog) Mark(string, string) {}

func (l *commandsLog) Close() Report {
	var rep Report
	if len(l.cmds.Records()) == 0 {
		return rep
	}
	if err := l.cmds.WriteLog(l.dir); err != nil {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("commands: write %s: %v", CommandsFile, err))
	}
	return rep
}
