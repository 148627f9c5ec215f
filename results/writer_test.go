package results

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/parquet-go/parquet-go"
)

// readParts reads every part file of table in dir with parquet-go's own
// generic reader, as any standard reader would.
func readParts(t *testing.T, dir, table string) []Request {
	t.Helper()
	parts, err := listParts(dir, table)
	if err != nil {
		t.Fatal(err)
	}
	var out []Request
	for _, p := range parts {
		rows, err := parquet.ReadFile[Request](filepath.Join(dir, p))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out = append(out, rows...)
	}
	return out
}

func TestDurableWriterSealsOnTimerAndSize(t *testing.T) {
	dir := t.TempDir()
	w, err := OpenTableWriter[Request](dir, TableRequests, 10, Durability{Every: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	in := sampleRequests(25)
	// 25 rows at once fill two parts at the size bound at once.
	for i := range 21 {
		if err := w.Write(in[i]); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(readParts(t, dir, TableRequests)); got != 20 {
		t.Errorf("after 21 rows with parts of 10: %d rows durable; want 20", got)
	}
	// The 21st row becomes durable when the timer fires.
	deadline := time.Now().Add(2 * time.Second)
	for len(readParts(t, dir, TableRequests)) < 21 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := readParts(t, dir, TableRequests); len(got) != 21 || !cmp.Equal(got, in[:21]) {
		t.Fatalf("after the timer: %d rows durable; want the first 21", len(got))
	}
	for i := 21; i < 25; i++ {
		w.Write(in[i])
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if parts, _ := listParts(dir, TableRequests); len(parts) != 0 {
		t.Errorf("parts left after Close: %v", parts)
	}
	got, err := ReadAll[Request](filepath.Join(dir, "requests.parquet"), TableRequests)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, got); diff != "" {
		t.Errorf("compacted table (-want +got):\n%s", diff)
	}
	if w.Info().Rows != 25 {
		t.Errorf("Info %+v", w.Info())
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, ".*")); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

// TestCompactTableAfterCrash leaves a durable writer without Close (as a
// kill does) and recovers the table from its parts; a second recovery
// changes nothing.
func TestCompactTableAfterCrash(t *testing.T) {
	dir := t.TempDir()
	w, err := OpenTableWriter[Request](dir, TableRequests, 8, Durability{Every: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	in := sampleRequests(30)
	w.Write(in...)
	// 30 rows in one call: parts seal at 8 rows or more, so one part of
	// 30; then 3 more rows left unsealed (lost by the crash).
	w.Write(sampleRequests(3)...)
	info, found, err := CompactTable(dir, TableRequests, true)
	if err != nil || !found || info.Rows != 30 {
		t.Fatalf("CompactTable: %+v %v %v", info, found, err)
	}
	got, err := ReadAll[Request](filepath.Join(dir, "requests.parquet"), TableRequests)
	if err != nil || !cmp.Equal(got, in) {
		t.Fatalf("recovered %d rows (%v); want the 30 durable ones", len(got), err)
	}
	again, _, err := CompactTable(dir, TableRequests, true)
	if err != nil || again != info {
		t.Errorf("second CompactTable: %+v %v; want %+v", again, err, info)
	}
	if _, found, _ := CompactTable(dir, TableGPU, false); found {
		t.Errorf("a table with no file and no part was found")
	}
	empty, found, err := CompactTable(t.TempDir(), TableRequests, true)
	if err != nil || !found || empty.Rows != 0 {
		t.Errorf("empty requests table: %+v %v %v", empty, found, err)
	}
}

func TestCompactManyPartsKeepsOrderAndRowGroups(t *testing.T) {
	dir := t.TempDir()
	w, err := OpenTableWriter[Request](dir, TableRequests, 3, Durability{Every: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	in := sampleRequests(100)
	for i := range in {
		w.Write(in[i])
	}
	if parts, _ := listParts(dir, TableRequests); len(parts) != 33 {
		t.Fatalf("%d parts; want 33", len(parts))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadAll[Request](filepath.Join(dir, "requests.parquet"), TableRequests)
	if err != nil || !cmp.Equal(got, in) {
		t.Fatalf("compacted %d rows (%v)", len(got), err)
	}
	pf, f, _, err := OpenParquet(filepath.Join(dir, "requests.parquet"), TableRequests)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n := len(pf.RowGroups()); n != 1 {
		t.Errorf("%d row groups; want the 100 rows regrouped into 1", n)
	}
}

// failingFile is a temporary file whose writes fail with ENOSPC once it
// holds limit bytes, like a file on a full disk.
type failingFile struct {
	*os.File
	limit, n int
}

func (f *failingFile) Write(p []byte) (int, error) {
	if f.n+len(p) > f.limit {
		return 0, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	f.n += len(p)
	return f.File.Write(p)
}

// TestDiskFullKeepsDurableParts injects ENOSPC into the third part file:
// the error names the part and the full disk, OnError is told once, the
// temporary file is removed, and the two sealed parts are recoverable.
func TestDiskFullKeepsDurableParts(t *testing.T) {
	dir := t.TempDir()
	created := 0
	orig := createTemp
	defer func() { createTemp = orig }()
	createTemp = func(dir, pattern string) (tempFile, error) {
		f, err := os.CreateTemp(dir, pattern)
		if err != nil {
			return nil, err
		}
		created++
		if created == 3 {
			return &failingFile{File: f, limit: 64}, nil
		}
		return f, nil
	}
	var mu sync.Mutex
	var told []error
	w, err := OpenTableWriter[Request](dir, TableRequests, 5, Durability{Every: time.Hour, OnError: func(err error) {
		mu.Lock()
		told = append(told, err)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	in := sampleRequests(15)
	var werr error
	for i := range in {
		if werr = w.Write(in[i]); werr != nil {
			break
		}
	}
	if werr == nil {
		t.Fatal("no write error on a full disk")
	}
	if !DiskFull(werr) || !strings.Contains(werr.Error(), "disk full") || !strings.Contains(werr.Error(), "requests.part-000003.parquet") {
		t.Errorf("error %q: want it to name the part and the full disk", werr)
	}
	if _, ok := errors.AsType[*WriteError](werr); !ok {
		t.Errorf("error %T is not a *WriteError", werr)
	}
	if cerr := w.Close(); cerr == nil || cerr.Error() != werr.Error() {
		t.Errorf("Close: %v; want the write error again", cerr)
	}
	if len(told) != 1 {
		t.Errorf("OnError called %d times; want once", len(told))
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, ".*")); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
	info, _, err := CompactTable(dir, TableRequests, true)
	if err != nil || info.Rows != 10 {
		t.Fatalf("recovery: %+v %v; want the 10 rows of the two sealed parts", info, err)
	}
}

func TestOneFileModeRemovesTemporaryOnError(t *testing.T) {
	dir := t.TempDir()
	orig := createTemp
	defer func() { createTemp = orig }()
	createTemp = func(dir, pattern string) (tempFile, error) {
		f, err := os.CreateTemp(dir, pattern)
		if err != nil {
			return nil, err
		}
		return &failingFile{File: f, limit: 16}, nil
	}
	w, err := NewTableWriter[Request](dir, TableRequests, 2)
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	for _, r := range sampleRequests(10) {
		if werr = w.Write(r); werr != nil {
			break
		}
	}
	if werr == nil {
		werr = w.Close()
	}
	if !DiskFull(werr) || !strings.Contains(werr.Error(), "requests.parquet") {
		t.Errorf("error %v", werr)
	}
	w.Close()
	if left, _ := os.ReadDir(dir); len(left) > 0 {
		t.Errorf("files left: %v", left)
	}
}

func TestJournalAndCrashed(t *testing.T) {
	dir := t.TempDir()
	if _, crashed := Crashed(dir); crashed {
		t.Error("an empty directory is not a crashed bundle")
	}
	j, err := CreateJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CreateJournal(dir); err == nil {
		t.Error("a second journal in the same bundle was created")
	}
	j.Append(JournalEvent{Event: JournalStart, UnixNs: 1, Manifest: &Manifest{RunID: "r"}})
	j.Append(JournalEvent{Event: JournalPhaseStart, UnixNs: 2, Phase: &Phase{Name: PhaseWarmup}})
	if reason, crashed := Crashed(dir); !crashed || !strings.Contains(reason, "still running") || !InUse(dir) {
		t.Errorf("live run: %q %v", reason, crashed)
	}
	j.Close()
	// A torn last line, as a crash mid-append leaves.
	f, _ := os.OpenFile(filepath.Join(dir, JournalFile), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"event":"phase_end","unix`)
	f.Close()
	evs, err := ReadJournal(dir)
	if err != nil || len(evs) != 2 || evs[0].Manifest.RunID != "r" || evs[1].Phase.Name != PhaseWarmup {
		t.Fatalf("ReadJournal: %+v %v", evs, err)
	}
	reason, crashed := Crashed(dir)
	if !crashed || !strings.HasPrefix(reason, "crashed") || !strings.Contains(reason, "capture recover "+dir) || InUse(dir) {
		t.Errorf("crashed run: %q %v", reason, crashed)
	}
	WriteManifest(dir, &Manifest{RunID: "r"})
	if _, crashed := Crashed(dir); crashed {
		t.Error("a bundle with a manifest is not crashed")
	}
}
