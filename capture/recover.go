package capture

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"kvbench/results"
)

// ReasonRecovered is the invalid reason of a bundle rebuilt by Recover.
const ReasonRecovered = "recovered after crash"

// ErrNothingToRecover is wrapped by Recover's error for a directory that
// is a complete bundle or no bundle at all.
var ErrNothingToRecover = errors.New("nothing to recover")

// Recovery is what Recover did.
type Recovery struct {
	Manifest *results.Manifest
	// Already is set when the bundle had been recovered before: nothing
	// was changed.
	Already bool
}

// Recover turns the crashed bundle in dir (capture killed, out of memory,
// or stopped by a full disk before it wrote its manifest) into a normal
// bundle: every table compacted from its durable part files, temporary
// files removed, and a manifest built from the journal with valid false,
// the reason ReasonRecovered, the phases as far as the journal and the
// rows tell, and the row counts. It refuses a complete bundle and one
// whose capture is still running; on a bundle it recovered before it
// changes nothing.
func Recover(dir string) (*Recovery, error) {
	m, err := results.ReadManifest(dir)
	switch {
	case err == nil && m.Recovered:
		return &Recovery{Manifest: m, Already: true}, nil
	case err == nil:
		return nil, fmt.Errorf("%s is a complete bundle (it has %s): %w", dir, results.ManifestFile, ErrNothingToRecover)
	case !errors.Is(err, results.ErrIncomplete):
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	reason, crashed := results.Crashed(dir)
	switch {
	case !crashed:
		return nil, fmt.Errorf("%s is not a crashed run bundle (no %s, no part files): %w", dir, results.JournalFile, ErrNothingToRecover)
	case results.InUse(dir):
		return nil, fmt.Errorf("%s: %s", dir, reason)
	}
	events, err := results.ReadJournal(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	m = journalManifest(dir, events)
	removeTemporaries(dir)
	for _, table := range slices.Sorted(maps.Keys(results.KnownVersions)) {
		info, found, err := results.CompactTable(dir, table, table == results.TableRequests)
		if err != nil {
			return nil, err
		}
		if found {
			m.Tables[table] = info
		}
	}
	rows, err := phaseRows(dir)
	if err != nil {
		return nil, err
	}
	recoverPhases(m, events, rows)
	if err := results.WriteManifest(dir, m); err != nil {
		return nil, err
	}
	return &Recovery{Manifest: m}, nil
}

// journalManifest starts the recovered manifest from the journal's start
// event (or, without one, from the directory name alone).
func journalManifest(dir string, events []results.JournalEvent) *results.Manifest {
	m := &results.Manifest{RunID: filepath.Base(dir)}
	for _, ev := range events {
		if ev.Event == results.JournalStart && ev.Manifest != nil {
			m = ev.Manifest
			break
		}
	}
	if m.StartedUnixNs == 0 {
		m.Warnings = append(m.Warnings, "the journal has no start event: capture stopped before its first request")
	}
	m.Tables = map[string]results.TableInfo{}
	m.Phases = nil
	m.Valid, m.Recovered = false, true
	m.InvalidReasons = []string{ReasonRecovered}
	for _, ev := range events {
		if ev.Event == results.JournalStop && ev.Reason != "" {
			m.Warnings = append(m.Warnings, "the run had stopped early: "+ev.Reason)
		}
		m.EndedUnixNs = max(m.EndedUnixNs, ev.UnixNs)
	}
	return m
}

// removeTemporaries removes the temporary files a crash left (.<name>.tmp-*).
func removeTemporaries(dir string) {
	tmp, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
	for _, f := range tmp {
		os.Remove(f)
	}
}

// phaseKey names one phase of a run: its name and repetition.
type phaseKey struct {
	name   string
	repeat int
}

// phaseCount is what the durable rows say about one phase.
type phaseCount struct {
	requests, errors int
	endUnixNs        int64 // end of its last request
}

// phaseRows counts the durable request rows of dir by phase.
func phaseRows(dir string) (map[phaseKey]*phaseCount, error) {
	out := map[phaseKey]*phaseCount{}
	err := results.Scan(filepath.Join(dir, results.TableRequests+".parquet"), results.TableRequests, 4096, func(rows []results.Request) error {
		for _, r := range rows {
			k := phaseKey{r.Phase, int(r.RepeatIndex)}
			c := out[k]
			if c == nil {
				c = &phaseCount{}
				out[k] = c
			}
			c.requests++
			if r.ErrorKind != "" {
				c.errors++
			}
			c.endUnixNs = max(c.endUnixNs, r.StartUnixNs+r.LatencyNs)
		}
		return nil
	})
	return out, err
}

// recoverPhases lists the phases the journal saw start, with their counts
// from the durable rows; a phase the crash cut ends at its last durable
// request. It adds a warning that says where the run stopped.
func recoverPhases(m *results.Manifest, events []results.JournalEvent, rows map[phaseKey]*phaseCount) {
	index := map[phaseKey]int{}
	for _, ev := range events {
		if ev.Phase == nil || (ev.Event != results.JournalPhaseStart && ev.Event != results.JournalPhaseEnd) {
			continue
		}
		k := phaseKey{ev.Phase.Name, ev.Phase.RepeatIndex}
		i, ok := index[k]
		if !ok {
			i = len(m.Phases)
			index[k] = i
			m.Phases = append(m.Phases, *ev.Phase)
		}
		if ev.Event == results.JournalPhaseEnd {
			m.Phases[i] = *ev.Phase
		}
	}
	total := 0
	for i := range m.Phases {
		p := &m.Phases[i]
		c := rows[phaseKey{p.Name, p.RepeatIndex}]
		if c == nil {
			c = &phaseCount{}
		}
		total += c.requests
		p.Requests, p.Errors, p.NotSent = c.requests, c.errors, 0
		if p.EndUnixNs == 0 {
			p.EndUnixNs = max(p.StartUnixNs, c.endUnixNs)
			m.Warnings = append(m.Warnings, fmt.Sprintf("capture stopped during phase %s; it ends here at its last durable request", p.Name))
		}
		m.EndedUnixNs = max(m.EndedUnixNs, p.EndUnixNs)
	}
	planned := m.Tables[results.TableSchedule].Rows
	m.Warnings = append(m.Warnings, fmt.Sprintf("%d of %d planned requests have a durable row (recovered %s); requests that ended less than --durable-interval before the crash are lost",
		total, planned, time.Now().UTC().Format(time.RFC3339)))
}
