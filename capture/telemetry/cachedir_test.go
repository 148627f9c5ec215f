package telemetry

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kvbench/results"
)

func TestCacheDirChurn(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "kvbm")
	s := NewCacheDirSampler(cache, 0)
	dir := t.TempDir()
	if err := s.Open(context.Background(), dir, "r"); err != nil {
		t.Fatal(err)
	}
	s.Mark(results.PhaseWarmup, PointStart) // directory not there yet: KVBM creates it
	mkdir(t, filepath.Join(cache, "sub"))
	write(t, filepath.Join(cache, "a.kv"), strings.Repeat("x", 4096))
	write(t, filepath.Join(cache, "b.kv"), strings.Repeat("x", 4096))
	write(t, filepath.Join(cache, "sub", "c.kv"), strings.Repeat("x", 100))
	s.Mark(results.PhaseWarmup, PointEnd)
	os.Remove(filepath.Join(cache, "a.kv"))
	old := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(cache, "b.kv"), old, old)
	write(t, filepath.Join(cache, "d.kv"), "y")
	write(t, filepath.Join(cache, "e.kv"), "z")
	// KVBM's trick: a file that stays open but is unlinked is in no listing.
	f, err := os.Create(filepath.Join(cache, "unlinked.kv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	os.Remove(f.Name())
	s.Mark(results.PhaseReplay, PointStart)
	s.Mark(results.PhaseReplay, PointEnd) // nothing changed
	rep := s.Close()

	rows, err := results.ReadAll[results.CacheDirSnapshot](filepath.Join(dir, "cachedir.parquet"), results.TableCacheDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 {
		t.Fatalf("%d rows; want 4", len(rows))
	}
	type want struct {
		files, bytes, created, removed int64
		errSub                         string
	}
	for i, w := range []want{
		{0, 0, 0, 0, "does not exist"},
		{3, 8292, 3, 0, ""}, // a missing directory counts as empty
		{4, 4198, 2, 1, ""},
		{4, 4198, 0, 0, ""},
	} {
		r := rows[i]
		if r.FileCount != w.files || r.TotalBytes != w.bytes || r.FilesCreated != w.created || r.FilesRemoved != w.removed ||
			!strings.Contains(r.Error, w.errSub) || (w.errSub == "") != (r.Error == "") {
			t.Errorf("row %d (%s %s) = files %d bytes %d created %d removed %d error %q; want %+v",
				i, r.Phase, r.Point, r.FileCount, r.TotalBytes, r.FilesCreated, r.FilesRemoved, r.Error, w)
		}
		if r.RunID != "r" || r.Dir != cache {
			t.Errorf("row %d: run %q dir %q", i, r.RunID, r.Dir)
		}
	}
	if rows[1].FSUsedBytes == nil || *rows[1].FSUsedBytes <= 0 || rows[1].FSTotalBytes == nil {
		t.Errorf("fs used/total missing: %v %v", rows[1].FSUsedBytes, rows[1].FSTotalBytes)
	}
	if rows[2].NewestMtimeUnixNs == nil || *rows[2].NewestMtimeUnixNs < time.Now().Add(-time.Minute).UnixNano() {
		t.Errorf("newest mtime %v; want the new files' mtime", rows[2].NewestMtimeUnixNs)
	}
	if rows[0].NewestMtimeUnixNs != nil {
		t.Errorf("newest mtime of an empty listing = %v; want nil", *rows[0].NewestMtimeUnixNs)
	}
	if rep.Tables[results.TableCacheDir].Rows != 4 {
		t.Errorf("manifest rows %d; want 4", rep.Tables[results.TableCacheDir].Rows)
	}
}

func TestSnapshotDirCap(t *testing.T) {
	d := t.TempDir()
	for _, n := range []string{"a", "b", "c"} {
		write(t, filepath.Join(d, n), n)
	}
	row, files := SnapshotDir(d, 2)
	if files != nil || !strings.Contains(row.Error, "cut at 2 files") {
		t.Errorf("SnapshotDir cap 2: files %v error %q; want nil and a cut error", files, row.Error)
	}
}
