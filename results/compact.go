package results

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/parquet-go/parquet-go"
)

// tableSchema returns the Parquet schema this build writes for table.
func tableSchema(table string) *parquet.Schema {
	switch table {
	case TableRequests:
		return parquet.SchemaOf(new(Request))
	case TablePrompts:
		return parquet.SchemaOf(new(PromptRow))
	case TableSchedule:
		return parquet.SchemaOf(new(ScheduleRow))
	case TableMetrics:
		return parquet.SchemaOf(new(MetricSample))
	case TableIO:
		return parquet.SchemaOf(new(IOSample))
	case TableCacheDir:
		return parquet.SchemaOf(new(CacheDirSnapshot))
	case TableGPU:
		return parquet.SchemaOf(new(GPUSample))
	}
	return nil
}

// CompactTable puts <table>.parquet of a bundle in place from its sealed
// part files, as `capture recover` does after a crash: when the file is
// already there (the crash came after compaction) the leftover parts are
// removed; otherwise the parts are compacted. With neither, it writes an
// empty table when create is set and reports found false otherwise.
func CompactTable(dir, table string, create bool) (info TableInfo, found bool, err error) {
	if tableSchema(table) == nil {
		return TableInfo{}, false, fmt.Errorf("table %q: unknown table", table)
	}
	parts, err := listParts(dir, table)
	if err != nil {
		return TableInfo{}, false, err
	}
	final := filepath.Join(dir, table+".parquet")
	if _, err := os.Stat(final); err == nil {
		pf, f, _, err := OpenParquet(final, table)
		if err != nil {
			return TableInfo{}, true, err
		}
		n := pf.NumRows()
		f.Close()
		for _, p := range parts {
			os.Remove(filepath.Join(dir, p))
		}
		return TableInfo{File: table + ".parquet", SchemaVersion: CurrentVersion(table), Rows: n}, true, syncDir(dir)
	}
	if len(parts) == 0 && !create {
		return TableInfo{}, false, nil
	}
	n, err := compactParts(dir, table, parts)
	if err != nil {
		return TableInfo{}, true, err
	}
	return TableInfo{File: table + ".parquet", SchemaVersion: CurrentVersion(table), Rows: n}, true, nil
}

// compactParts merges the parts of table, in order, into <table>.parquet
// with row groups of DefaultRowGroupRows (temporary name, fsync, rename,
// directory fsync), then removes the parts, and returns the rows written.
// One part is renamed as it is; none gives an empty table.
func compactParts(dir, table string, parts []string) (rows int64, err error) {
	final := filepath.Join(dir, table+".parquet")
	if len(parts) == 1 {
		part := filepath.Join(dir, parts[0])
		pf, f, _, err := OpenParquet(part, table)
		if err != nil {
			return 0, err
		}
		rows = pf.NumRows()
		f.Close()
		if err := os.Rename(part, final); err != nil {
			return 0, &WriteError{Path: final, Err: unwrapPathError(err)}
		}
		return rows, syncDir(dir)
	}
	f, err := createTemp(dir, "."+table+".parquet.tmp-*")
	if err != nil {
		return 0, &WriteError{Path: final, Err: unwrapPathError(err)}
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	w := parquet.NewGenericWriter[any](f, append(writerOptions(table, DefaultRowGroupRows), tableSchema(table))...)
	for _, p := range parts {
		n, err := copyPart(w, filepath.Join(dir, p), table)
		if err != nil {
			return 0, err
		}
		rows += n
	}
	if err = commitTemp(f, final, w.Close()); err != nil {
		return 0, err
	}
	for _, p := range parts {
		os.Remove(filepath.Join(dir, p))
	}
	return rows, syncDir(dir)
}

// rowWriter hides every method of a writer but WriteRows and Schema, so
// that parquet.CopyRows copies row by row into the writer's buffered row
// groups instead of writing each part's row group as its own.
type rowWriter struct{ w *parquet.GenericWriter[any] }

func (r rowWriter) WriteRows(rows []parquet.Row) (int, error) { return r.w.WriteRows(rows) }
func (r rowWriter) Schema() *parquet.Schema                   { return r.w.Schema() }

// copyPart appends every row of one part file to w.
func copyPart(w *parquet.GenericWriter[any], path, table string) (rows int64, err error) {
	pf, f, _, err := OpenParquet(path, table)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("read %s: corrupt parquet file: %v", path, p)
		}
	}()
	for _, rg := range pf.RowGroups() {
		rs := rg.Rows()
		n, err := parquet.CopyRows(rowWriter{w}, rs)
		rs.Close()
		if err != nil {
			if DiskFull(err) {
				return rows, &WriteError{Path: filepath.Join(filepath.Dir(path), table+".parquet"), Err: err}
			}
			return rows, fmt.Errorf("compact %s: %w", path, err)
		}
		rows += n
	}
	return rows, nil
}
