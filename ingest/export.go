package ingest

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
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
	err = withParquet(src, table, func(pf *parquet.File) error {
		rows, err = exportRows(pf, table, partDir)
		return err
	})
	return rows, err
}

// exportRows writes the rows of an open table file into partDir.
func exportRows(pf *parquet.File, table, partDir string) (rows int64, err error) {
	g := parquet.Group{}
	for _, fld := range pf.Schema().Fields() {
		if !slices.Contains(partitionColumns, fld.Name()) {
			g[fld.Name()] = fld
		}
	}
	schema := parquet.NewSchema(table, g)
	conv, err := parquet.Convert(schema, pf.Schema())
	if err != nil {
		return 0, err
	}
	opts := []parquet.WriterOption{schema, parquet.Compression(&parquet.Zstd), parquet.MaxRowsPerRowGroup(results.DefaultRowGroupRows)}
	for _, kv := range pf.Metadata().KeyValueMetadata {
		opts = append(opts, parquet.KeyValueMetadata(kv.Key, kv.Value))
	}
	err = writeAtomic(partDir, "part-0.parquet", func(tmp *os.File) error {
		w := parquet.NewWriter(tmp, opts...)
		for _, rg := range pf.RowGroups() {
			r := parquet.ConvertRowGroup(rg, conv).Rows()
			n, err := parquet.CopyRows(w, r)
			r.Close()
			if err != nil {
				return err
			}
			rows += n
		}
		return w.Close()
	})
	if err == nil && rows != pf.NumRows() {
		err = errors.New("row count changed during export")
	}
	return rows, err
}

// writeAtomic writes dir/name through write into a temporary file that is
// synced and renamed, so a reader never sees half a file under its name.
func writeAtomic(dir, name string, write func(*os.File) error) (err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, name))
}

// DatasetRuns counts the runs an exported dataset holds: the distinct
// run_id partitions under dir, over every table.
func DatasetRuns(dir string) (int, error) {
	tables, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	runs := map[string]bool{}
	for _, t := range tables {
		if !t.IsDir() {
			continue
		}
		parts, err := filepath.Glob(filepath.Join(dir, t.Name(), "scenario=*", "tier_mode=*", "run_id=*"))
		if err != nil {
			return 0, err
		}
		for _, p := range parts {
			runs[filepath.Base(p)] = true
		}
	}
	return len(runs), nil
}
