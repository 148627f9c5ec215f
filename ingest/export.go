package ingest

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"

	"github.com/parquet-go/parquet-go"

	"kvbench/results"
)

// partitionColumns are taken out of the files and put in the directory
// names (hive style), as Spark and DuckDB expect: a column may not be both
// in the data and in the partition path.
var partitionColumns = []string{"scenario", "tier_mode", "run_id"}

// ExportStats counts what Export wrote.
type ExportStats struct {
	Runs  int
	Files int
	Rows  int64
}

// Export writes every table of every valid bundle as one hive-partitioned
// Parquet dataset: DIR/<table>/scenario=S/tier_mode=T/run_id=R/part-0.parquet.
// Invalid bundles are skipped (and listed); files are written atomically.
func Export(bundles []Bundle, dir string) (ExportStats, []Skipped, error) {
	var st ExportStats
	var skipped []Skipped
	for _, b := range bundles {
		m := b.Manifest
		if !m.Valid {
			skipped = append(skipped, Skipped{Path: b.Dir, Reason: "invalid run not exported"})
			continue
		}
		tables := make([]string, 0, len(m.Tables))
		for name := range m.Tables {
			if _, known := results.KnownVersions[name]; known {
				tables = append(tables, name)
			}
		}
		sort.Strings(tables)
		for _, table := range tables {
			info := m.Tables[table]
			part := filepath.Join(dir, table,
				"scenario="+escape(m.Scenario), "tier_mode="+escape(m.TierMode), "run_id="+escape(m.RunID))
			n, err := exportFile(filepath.Join(b.Dir, info.File), table, part)
			if err != nil {
				return st, skipped, fmt.Errorf("export %s of %s: %w", table, m.RunID, err)
			}
			st.Files++
			st.Rows += n
		}
		st.Runs++
	}
	return st, skipped, nil
}

func escape(s string) string {
	if s == "" {
		return "__HIVE_DEFAULT_PARTITION__"
	}
	return url.PathEscape(s)
}

// exportFile rewrites one table file without the partition columns.
func exportFile(src, table, partDir string) (rows int64, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s: corrupt parquet file: %v", src, p)
		}
	}()
	f, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return 0, fmt.Errorf("%s: %w", src, err)
	}
	if got, _ := pf.Lookup(results.MetaTable); got != table {
		return 0, fmt.Errorf("%s holds table %q, want %q", src, got, table)
	}
	drop := map[string]bool{}
	for _, c := range partitionColumns {
		drop[c] = true
	}
	g := parquet.Group{}
	for _, fld := range pf.Schema().Fields() {
		if !drop[fld.Name()] {
			g[fld.Name()] = fld
		}
	}
	schema := parquet.NewSchema(table, g)
	conv, err := parquet.Convert(schema, pf.Schema())
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(partDir, 0o755); err != nil {
		return 0, err
	}
	tmp, err := os.CreateTemp(partDir, ".part-0.parquet.tmp-*")
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	opts := []parquet.WriterOption{schema, parquet.Compression(&parquet.Zstd), parquet.MaxRowsPerRowGroup(results.DefaultRowGroupRows)}
	for _, kv := range pf.Metadata().KeyValueMetadata {
		opts = append(opts, parquet.KeyValueMetadata(kv.Key, kv.Value))
	}
	w := parquet.NewWriter(tmp, opts...)
	for _, rg := range pf.RowGroups() {
		r := parquet.ConvertRowGroup(rg, conv).Rows()
		n, err := parquet.CopyRows(w, r)
		r.Close()
		if err != nil {
			return 0, err
		}
		rows += n
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	if err := tmp.Sync(); err != nil {
		return 0, err
	}
	if err := tmp.Close(); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(partDir, "part-0.parquet")); err != nil {
		return 0, err
	}
	if rows != pf.NumRows() {
		return rows, errors.New("row count changed during export")
	}
	return rows, nil
}
