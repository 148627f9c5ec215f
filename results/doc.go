// Package results is the on-disk contract of kvbench: the record types that
// capture writes and analyze reads, their Parquet schemas with versions, and
// the run manifest.
//
// It sits at the bottom of the pipeline (capture → results ← ingest) and
// imports no other kvbench package. A run bundle is a directory
// <results-dir>/<run_id>/ holding one Parquet file per table and a
// manifest.json written last. While a run goes on, the tables that grow are
// written as small part files sealed every second or so (TableWriter with
// Durability) next to a progress journal, so a killed run leaves a crashed
// bundle whose durable rows `capture recover` compacts (CompactTable). Every
// file is written to a temporary name, fsynced and renamed, so a reader
// never sees half a file under its final name.
//
// Values are stored in base units: durations in nanoseconds (columns ending
// in _ns), sizes in bytes (_bytes), wall-clock stamps as Unix nanoseconds
// (_unix_ns). Scaling for display happens in report. SCHEMA.md beside this
// file documents every column.
package results
