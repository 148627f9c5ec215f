package results

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// JournalFile is the progress journal of a bundle: one JSON object per
// line, appended and fsynced before the run goes on, so that a crashed
// run's phases can be recovered. A running capture holds an exclusive
// lock on it (flock), which the kernel drops when the process dies.
const JournalFile = "journal.jsonl"

// Journal events.
const (
	// JournalStart carries the manifest as known before the first request
	// (run, configuration, host, calibration, campaign, the schedule and
	// prompts tables).
	JournalStart = "start"
	// JournalPhaseStart and JournalPhaseEnd carry a phase at its start
	// (name, concurrency, repeat, start time) and at its end (complete).
	JournalPhaseStart = "phase_start"
	JournalPhaseEnd   = "phase_end"
	// JournalStop says why the run stopped early (server unreachable,
	// interrupt, write error).
	JournalStop = "stop"
)

// JournalEvent is one line of the journal.
type JournalEvent struct {
	Event    string    `json:"event"`
	UnixNs   int64     `json:"unix_ns"`
	Manifest *Manifest `json:"manifest,omitempty"`
	Phase    *Phase    `json:"phase,omitempty"`
	Reason   string    `json:"reason,omitempty"`
}

// Journal appends events to a bundle's journal.
type Journal struct {
	f    *os.File
	path string
}

// CreateJournal creates dir/journal.jsonl (it must not exist) and locks
// it for this process.
func CreateJournal(dir string) (*Journal, error) {
	path := filepath.Join(dir, JournalFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		return nil, &WriteError{Path: path, Err: unwrapPathError(err)}
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, err
	}
	return &Journal{f: f, path: path}, nil
}

// Append writes one event as a line and fsyncs the journal.
func (j *Journal) Append(ev JournalEvent) error {
	data, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode journal event: %w", err)
	}
	if _, err := j.f.Write(append(data, '\n')); err != nil {
		return &WriteError{Path: j.path, Err: unwrapPathError(err)}
	}
	if err := j.f.Sync(); err != nil {
		return &WriteError{Path: j.path, Err: unwrapPathError(err)}
	}
	return nil
}

// Close releases the journal and its lock.
func (j *Journal) Close() error {
	if j == nil || j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}

// ReadJournal reads a bundle's journal. A last line cut short by a crash
// is ignored; any other bad line is an error.
func ReadJournal(dir string) ([]JournalEvent, error) {
	data, err := os.ReadFile(filepath.Join(dir, JournalFile))
	if err != nil {
		return nil, err
	}
	var out []JournalEvent
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var ev JournalEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			if !bytes.HasSuffix(data, []byte("\n")) && bytes.HasSuffix(data, line) {
				break // the last line, torn by the crash
			}
			return out, fmt.Errorf("%s line %d: %w", JournalFile, n, err)
		}
		out = append(out, ev)
	}
	return out, sc.Err()
}

// InUse reports whether a running process holds the journal of dir.
func InUse(dir string) bool {
	f, err := os.Open(filepath.Join(dir, JournalFile))
	if err != nil {
		return false
	}
	defer f.Close()
	return lockHeld(f)
}

// Crashed reports whether dir is a bundle whose capture stopped before it
// wrote the manifest (killed, out of memory, a full disk) but left a
// journal or durable part files, and says so with the command that
// recovers it. A bundle still being written is reported as such.
func Crashed(dir string) (reason string, crashed bool) {
	if _, err := os.Stat(filepath.Join(dir, ManifestFile)); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return "", false
	}
	_, jerr := os.Stat(filepath.Join(dir, JournalFile))
	parts, _ := filepath.Glob(filepath.Join(dir, "*.part-*.parquet"))
	if jerr != nil && len(parts) == 0 {
		return "", false
	}
	if InUse(dir) {
		return "still running: a capture process is writing this bundle", true
	}
	return fmt.Sprintf("crashed: capture stopped before writing %s; its durable rows are kept, recover them with: capture recover %s", ManifestFile, dir), true
}
