package capture

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"kvbench/results"
)

// crashedBundle writes what a capture killed during its measure phase
// leaves: a journal (start, warmup start and end, measure start), sealed
// parts with 5 warmup and 7 measure rows, an unsealed part and a stray
// temporary file.
func crashedBundle(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run1")
	os.Mkdir(dir, 0o755)
	j, err := results.CreateJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	sw, _ := results.NewTableWriter[results.ScheduleRow](dir, results.TableSchedule, 0)
	for i := range 20 {
		sw.Write(results.ScheduleRow{RunID: "run1", RequestIndex: int64(i)})
	}
	sw.Close()
	m := &results.Manifest{RunID: "run1", Scenario: ScenarioStandard, TierMode: "B1", KVMode: "cpu_only", StartedUnixNs: 1000,
		Config: map[string]string{"requests": "15"}, Tables: map[string]results.TableInfo{results.TableSchedule: sw.Info()}}
	j.Append(results.JournalEvent{Event: results.JournalStart, UnixNs: 1000, Manifest: m})
	warm := results.Phase{Name: results.PhaseWarmup, Concurrency: 2, StartUnixNs: 1000}
	j.Append(results.JournalEvent{Event: results.JournalPhaseStart, UnixNs: 1000, Phase: &warm})
	warm.EndUnixNs, warm.Requests = 2000, 5
	j.Append(results.JournalEvent{Event: results.JournalPhaseEnd, UnixNs: 2000, Phase: &warm})
	meas := results.Phase{Name: results.PhaseMeasure, Concurrency: 2, StartUnixNs: 2000}
	j.Append(results.JournalEvent{Event: results.JournalPhaseStart, UnixNs: 2000, Phase: &meas})
	j.Close()

	w, err := results.OpenTableWriter[results.Request](dir, results.TableRequests, 4, results.Durability{Every: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	row := func(i int, phase string, start int64, kind string) results.Request {
		return results.Request{RunID: "run1", Phase: phase, RequestIndex: int64(i), StartUnixNs: start, LatencyNs: 100, ErrorKind: kind}
	}
	for i := range 5 {
		w.Write(row(i, results.PhaseWarmup, 1100+int64(i), ""))
	}
	for i := 5; i < 12; i++ {
		kind := ""
		if i == 6 {
			kind = results.ErrHTTP
		}
		w.Write(row(i, results.PhaseMeasure, 2100+int64(i), kind))
	}
	// Parts seal at 4 rows: 12 rows are durable, the 13th is not.
	w.Write(row(12, results.PhaseMeasure, 2500, ""))
	os.WriteFile(filepath.Join(dir, ".metrics.parquet.tmp-123"), []byte("PAR1"), 0o644)
	return dir
}

func TestRecoverCrashedBundle(t *testing.T) {
	dir := crashedBundle(t)
	rec, err := Recover(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := rec.Manifest
	if m.Valid || !m.Recovered || len(m.InvalidReasons) != 1 || m.InvalidReasons[0] != ReasonRecovered || m.RunID != "run1" || m.TierMode != "B1" {
		t.Fatalf("manifest %+v", m)
	}
	if got := m.Tables[results.TableRequests].Rows; got != 12 {
		t.Errorf("requests rows %d; want the 12 durable ones", got)
	}
	if len(m.Phases) != 2 || m.Phases[0].Requests != 5 || m.Phases[1].Requests != 7 || m.Phases[1].Errors != 1 ||
		m.Phases[1].EndUnixNs != 2100+11+100 || m.EndedUnixNs != m.Phases[1].EndUnixNs {
		t.Errorf("phases %+v ended %d", m.Phases, m.EndedUnixNs)
	}
	rows, err := results.ReadAll[results.Request](filepath.Join(dir, "requests.parquet"), results.TableRequests)
	if err != nil || len(rows) != 12 {
		t.Fatalf("requests.parquet: %d rows, %v", len(rows), err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".*"))
	parts, _ := filepath.Glob(filepath.Join(dir, "*.part-*"))
	if len(left)+len(parts) > 0 {
		t.Errorf("left behind: %v %v", left, parts)
	}
	if _, crashed := results.Crashed(dir); crashed {
		t.Error("still crashed after recovery")
	}
	// Twice changes nothing.
	before, _ := os.ReadFile(filepath.Join(dir, results.ManifestFile))
	again, err := Recover(dir)
	after, _ := os.ReadFile(filepath.Join(dir, results.ManifestFile))
	if err != nil || !again.Already || string(before) != string(after) || !reflect.DeepEqual(again.Manifest.Phases, m.Phases) {
		t.Errorf("second recover: %+v %v; manifest changed %v", again, err, string(before) != string(after))
	}
}

func TestRecoverRefuses(t *testing.T) {
	complete := t.TempDir()
	results.WriteManifest(complete, &results.Manifest{RunID: "x"})
	if _, err := Recover(complete); !errors.Is(err, ErrNothingToRecover) {
		t.Errorf("complete bundle: %v", err)
	}
	if _, err := Recover(t.TempDir()); !errors.Is(err, ErrNothingToRecover) {
		t.Errorf("empty directory: %v", err)
	}
	live := t.TempDir()
	j, _ := results.CreateJournal(live)
	defer j.Close()
	if _, err := Recover(live); err == nil || errors.Is(err, ErrNothingToRecover) {
		t.Errorf("running bundle: %v", err)
	}
}
