package results

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/parquet-go/parquet-go"
)

// Key/value metadata keys written into every Parquet file.
const (
	MetaTable         = "kvbench.table"
	MetaSchemaVersion = "kvbench.schema_version"
)

// ErrUnknownVersion is wrapped by readers when a file carries a schema
// version this build cannot decode.
var ErrUnknownVersion = errors.New("unknown schema version")

// TableReader streams the rows of one table file, row group by row group,
// so memory does not grow with the file.
type TableReader[T any] struct {
	path    string
	f       *os.File
	r       *parquet.GenericReader[T]
	Version int
}

// OpenParquet opens path as a Parquet file holding table at a known schema
// version, for readers that read column chunks directly. The caller closes
// the returned file. Panics inside the Parquet library are turned into
// errors.
func OpenParquet(path, table string) (pf *parquet.File, f *os.File, version int, err error) {
	f, err = os.Open(path)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("open %s: %w", path, err)
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("read %s: corrupt parquet file: %v", path, p)
		}
		if err != nil {
			f.Close()
			pf, f = nil, nil
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, 0, fmt.Errorf("stat %s: %w", path, err)
	}
	pf, err = parquet.OpenFile(f, st.Size())
	if err != nil {
		return nil, nil, 0, fmt.Errorf("read %s: %w", path, err)
	}
	version, err = checkVersion(pf, path, table)
	return pf, f, version, err
}

func checkVersion(pf *parquet.File, path, table string) (int, error) {
	got, _ := pf.Lookup(MetaTable)
	if got != table {
		return 0, fmt.Errorf("read %s: file holds table %q, want %q", path, got, table)
	}
	vs, _ := pf.Lookup(MetaSchemaVersion)
	v, err := strconv.Atoi(vs)
	if err != nil || !knownVersion(table, v) {
		return 0, fmt.Errorf("read %s: %s %q of table %s (this build reads %v): %w",
			path, MetaSchemaVersion, vs, table, KnownVersions[table], ErrUnknownVersion)
	}
	return v, nil
}

// OpenTable opens path and checks that it holds table at a known schema
// version. Panics inside the Parquet library on corrupt files are turned
// into errors.
func OpenTable[T any](path, table string) (tr *TableReader[T], err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("read %s: corrupt parquet file: %v", path, p)
		}
		if err != nil {
			f.Close()
			tr = nil
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	v, err := checkVersion(pf, path, table)
	if err != nil {
		return nil, err
	}
	r := parquet.NewGenericReader[T](pf)
	return &TableReader[T]{path: path, f: f, r: r, Version: v}, nil
}

func knownVersion(table string, v int) bool {
	for _, k := range KnownVersions[table] {
		if k == v {
			return true
		}
	}
	return false
}

// NumRows returns the number of rows in the file.
func (t *TableReader[T]) NumRows() int64 { return t.r.NumRows() }

// Read fills buf with the next rows and returns how many it read; it
// returns io.EOF (possibly with n > 0) at the end.
func (t *TableReader[T]) Read(buf []T) (n int, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("read %s: corrupt parquet file: %v", t.path, p)
		}
	}()
	n, err = t.r.Read(buf)
	if err != nil && !errors.Is(err, io.EOF) {
		err = fmt.Errorf("read %s: %w", t.path, err)
	}
	return n, err
}

// Close releases the file.
func (t *TableReader[T]) Close() error {
	t.r.Close()
	return t.f.Close()
}

// ReadAll reads every row of a table file. Use Scan for large files.
func ReadAll[T any](path, table string) ([]T, error) {
	var out []T
	err := Scan(path, table, 4096, func(rows []T) error {
		out = append(out, rows...)
		return nil
	})
	return out, err
}

// Scan calls fn with successive batches of at most batch rows. The slice
// passed to fn is reused between calls.
func Scan[T any](path, table string, batch int, fn func([]T) error) error {
	tr, err := OpenTable[T](path, table)
	if err != nil {
		return err
	}
	defer tr.Close()
	if batch <= 0 {
		batch = 4096
	}
	buf := make([]T, batch)
	for {
		clear(buf)
		n, err := tr.Read(buf)
		if n > 0 {
			if ferr := fn(buf[:n]); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
