package results

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/parquet-go/parquet-go"
)

// DefaultRowGroupRows bounds the rows buffered in memory before a row group
// is flushed to disk. Memory use of a writer is proportional to it, not to
// the length of the run.
const DefaultRowGroupRows = 8192

// DefaultDurableInterval is the longest a row waits before it is in a
// closed, fsynced part file, unless a run says otherwise
// (`capture run --durable-interval`).
const DefaultDurableInterval = time.Second

// Durability says how a TableWriter keeps rows safe while a run goes on.
type Durability struct {
	// Every > 0 writes numbered part files (<table>.part-NNNNNN.parquet),
	// each a complete Parquet file: a row is in a closed, fsynced part at
	// most Every after it was written, or as soon as its part holds the
	// row-group size. Close compacts the parts into <table>.parquet.
	// Every == 0 writes one temporary file renamed into place at Close:
	// nothing is readable before, and a kill loses every row.
	Every time.Duration
	// OnError, when not nil, is called once with the writer's first write
	// error (a *WriteError), from the goroutine that met it (a timer's
	// included), so that a run can stop at once rather than at its end.
	OnError func(error)
}

// TableWriter writes the rows of one table of a bundle in dir, either to
// one file renamed into place at Close or, with Durability.Every > 0, to
// part files that are sealed (footer, fsync, rename, directory fsync) as
// they fill or when their first row has waited Every; Close seals the
// last part and compacts the parts into <table>.parquet. Every file is
// written under a temporary name (.<name>.tmp-*) that is removed when a
// write fails; after a failure (a full disk) the writer refuses further
// rows and leaves the parts already sealed for `capture recover`.
// Write and Close belong to one goroutine; a timer goroutine seals parts
// under the writer's lock.
type TableWriter[T any] struct {
	dir, table string
	limit      int64
	dur        Durability

	mu     sync.Mutex
	cur    *fileWriter[T] // the file being filled; nil between parts
	timer  *time.Timer    // seals cur when its first row has waited dur.Every
	parts  []string       // sealed part files, in order
	seq    int            // number of the part cur is (or the last one was)
	rows   int64
	err    error // the first write error; every later call returns it
	told   bool  // err was handed to Durability.OnError
	closed bool
}

// tempFile is what a writer needs of *os.File; tests substitute one whose
// writes fail.
type tempFile interface {
	io.Writer
	Sync() error
	Close() error
	Name() string
}

// createTemp creates a temporary file (os.CreateTemp; replaced in tests).
var createTemp = func(dir, pattern string) (tempFile, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// fileWriter is one Parquet file being written under a temporary name.
type fileWriter[T any] struct {
	f       tempFile
	w       *parquet.GenericWriter[T]
	rows    int64
	pending int64 // rows since the last row-group flush
}

// NewTableWriter creates a writer of table in dir that writes one file,
// renamed into place at Close (no durability while it is written).
// rowGroupRows bounds each row group (DefaultRowGroupRows when <= 0).
func NewTableWriter[T any](dir, table string, rowGroupRows int) (*TableWriter[T], error) {
	return OpenTableWriter[T](dir, table, rowGroupRows, Durability{})
}

// OpenTableWriter creates a writer of table in dir with durability d.
// rowGroupRows bounds each row group and each part (DefaultRowGroupRows
// when <= 0).
func OpenTableWriter[T any](dir, table string, rowGroupRows int, d Durability) (*TableWriter[T], error) {
	if CurrentVersion(table) == 0 {
		return nil, fmt.Errorf("table %q: unknown table", table)
	}
	if rowGroupRows <= 0 {
		rowGroupRows = DefaultRowGroupRows
	}
	t := &TableWriter[T]{dir: dir, table: table, limit: int64(rowGroupRows), dur: d}
	if d.Every <= 0 {
		fw, err := t.create(table + ".parquet")
		if err != nil {
			return nil, err
		}
		t.cur = fw
	}
	return t, nil
}

// writerOptions are the options of every Parquet file of table.
func writerOptions(table string, rowGroupRows int64) []parquet.WriterOption {
	return []parquet.WriterOption{
		parquet.Compression(&parquet.Zstd),
		parquet.MaxRowsPerRowGroup(rowGroupRows),
		parquet.KeyValueMetadata(MetaTable, table),
		parquet.KeyValueMetadata(MetaSchemaVersion, strconv.Itoa(CurrentVersion(table))),
		parquet.CreatedBy("kvbench", Version, ""),
	}
}

// create starts the temporary file of name in the writer's directory.
func (t *TableWriter[T]) create(name string) (*fileWriter[T], error) {
	f, err := createTemp(t.dir, "."+name+".tmp-*")
	if err != nil {
		return nil, &WriteError{Path: filepath.Join(t.dir, name), Err: unwrapPathError(err)}
	}
	return &fileWriter[T]{f: f, w: parquet.NewGenericWriter[T](f, writerOptions(t.table, t.limit)...)}, nil
}

// finish writes the footer, fsyncs the file and renames it to path; on an
// error the temporary file is removed.
func (fw *fileWriter[T]) finish(path string) error {
	return commitTemp(fw.f, path, fw.w.Close())
}

// discard drops the temporary file.
func (fw *fileWriter[T]) discard() {
	fw.f.Close()
	os.Remove(fw.f.Name())
}

// path is the name the file being filled will have.
func (t *TableWriter[T]) path() string {
	if t.dur.Every > 0 {
		return filepath.Join(t.dir, partName(t.table, t.seq))
	}
	return filepath.Join(t.dir, t.table+".parquet")
}

// Write appends rows. In one-file mode a row group is flushed every
// rowGroupRows rows; with durability the part is sealed when it holds that
// many rows (and by the timer otherwise).
func (t *TableWriter[T]) Write(rows ...T) error {
	t.mu.Lock()
	err := t.write(rows)
	tell := t.untold()
	t.mu.Unlock()
	t.tell(tell)
	return err
}

func (t *TableWriter[T]) write(rows []T) error {
	switch {
	case t.closed:
		return fmt.Errorf("write %s: writer closed", t.table)
	case t.err != nil:
		return t.err
	case len(rows) == 0:
		return nil
	}
	if t.cur == nil {
		t.seq++
		fw, err := t.create(partName(t.table, t.seq))
		if err != nil {
			return t.fail(err)
		}
		t.cur = fw
		t.timer = time.AfterFunc(t.dur.Every, t.sealDue(t.seq))
	}
	if _, err := t.cur.w.Write(rows); err != nil {
		return t.failFile(err)
	}
	n := int64(len(rows))
	t.rows += n
	t.cur.rows += n
	t.cur.pending += n
	if t.cur.pending < t.limit {
		return nil
	}
	if t.dur.Every > 0 {
		return t.seal()
	}
	if err := t.cur.w.Flush(); err != nil {
		return t.failFile(err)
	}
	t.cur.pending = 0
	return nil
}

// sealDue returns the timer function that seals part seq if it is still
// the one being filled.
func (t *TableWriter[T]) sealDue(seq int) func() {
	return func() {
		t.mu.Lock()
		if !t.closed && t.err == nil && t.cur != nil && t.seq == seq {
			t.seal()
		}
		tell := t.untold()
		t.mu.Unlock()
		t.tell(tell)
	}
}

// seal closes the current part and renames it into place.
func (t *TableWriter[T]) seal() error {
	fw := t.cur
	t.cur = nil
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
	name := partName(t.table, t.seq)
	if err := fw.finish(filepath.Join(t.dir, name)); err != nil {
		return t.fail(err)
	}
	t.parts = append(t.parts, name)
	return nil
}

// failFile drops the file being filled after a write error.
func (t *TableWriter[T]) failFile(err error) error {
	path := t.path()
	t.cur.discard()
	t.cur = nil
	return t.fail(&WriteError{Path: path, Err: err})
}

// fail records the writer's first error and returns the error it keeps.
func (t *TableWriter[T]) fail(err error) error {
	if t.err == nil {
		t.err = err
	}
	return t.err
}

// untold returns the first error when Durability.OnError has not been
// given it yet, and marks it given. Called under the lock.
func (t *TableWriter[T]) untold() error {
	if t.err == nil || t.told || t.dur.OnError == nil {
		return nil
	}
	t.told = true
	return t.err
}

// tell hands err (when not nil) to Durability.OnError, outside the lock.
func (t *TableWriter[T]) tell(err error) {
	if err != nil {
		t.dur.OnError(err)
	}
}

// Rows returns how many rows were written so far.
func (t *TableWriter[T]) Rows() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.rows
}

// Path returns the final path of the file.
func (t *TableWriter[T]) Path() string { return filepath.Join(t.dir, t.table+".parquet") }

// Close writes the last rows and puts <table>.parquet in place: in
// one-file mode the footer, fsync and rename; with durability the last
// part is sealed and the parts are compacted. After a write error it
// removes the temporary file, leaves the sealed parts and returns the
// error. It is safe to call more than once.
func (t *TableWriter[T]) Close() error {
	t.mu.Lock()
	err := t.close()
	tell := t.untold()
	t.mu.Unlock()
	t.tell(tell)
	return err
}

func (t *TableWriter[T]) close() error {
	if t.closed {
		return t.err
	}
	t.closed = true
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
	if t.err != nil {
		if t.cur != nil {
			t.cur.discard()
			t.cur = nil
		}
		return t.err
	}
	if t.dur.Every <= 0 {
		fw := t.cur
		t.cur = nil
		if err := fw.finish(t.Path()); err != nil {
			return t.fail(err)
		}
		return nil
	}
	if t.cur != nil {
		if err := t.seal(); err != nil {
			return err
		}
	}
	n, err := compactParts(t.dir, t.table, t.parts)
	if err == nil && n != t.rows {
		err = fmt.Errorf("compact %s: %d rows in the parts, %d written", t.table, n, t.rows)
	}
	if err != nil {
		return t.fail(err)
	}
	return nil
}

// Info returns the manifest entry for this table.
func (t *TableWriter[T]) Info() TableInfo {
	return TableInfo{File: t.table + ".parquet", SchemaVersion: CurrentVersion(t.table), Rows: t.Rows()}
}

// WriteError is a failed write of a bundle file: which file, and why.
type WriteError struct {
	Path string
	Err  error
}

func (e *WriteError) Error() string {
	if DiskFull(e.Err) {
		return "disk full (no space left on device) writing " + e.Path
	}
	return fmt.Sprintf("write %s: %v", e.Path, e.Err)
}

func (e *WriteError) Unwrap() error { return e.Err }

// DiskFull reports whether err says the file system is full (ENOSPC, also
// when a library flattened it into its message).
func DiskFull(err error) bool {
	return err != nil && (errors.Is(err, syscall.ENOSPC) || strings.Contains(err.Error(), syscall.ENOSPC.Error()))
}

// unwrapPathError drops the operation and path a *os.PathError adds (a
// WriteError names the file itself).
func unwrapPathError(err error) error {
	if pe, ok := errors.AsType[*os.PathError](err); ok {
		return pe.Err
	}
	return err
}

// partName is the file name of part seq of table.
func partName(table string, seq int) string {
	return fmt.Sprintf("%s.part-%06d.parquet", table, seq)
}

// listParts returns the part files of table in dir, in part order.
func listParts(dir, table string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	type part struct {
		name string
		seq  int
	}
	var parts []part
	prefix := table + ".part-"
	for _, e := range entries {
		name := e.Name()
		num, ok := strings.CutPrefix(name, prefix)
		if !ok || !strings.HasSuffix(num, ".parquet") {
			continue
		}
		seq, err := strconv.Atoi(strings.TrimSuffix(num, ".parquet"))
		if err != nil {
			continue
		}
		parts = append(parts, part{name, seq})
	}
	slices.SortFunc(parts, func(a, b part) int { return a.seq - b.seq })
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = p.name
	}
	return out, nil
}
