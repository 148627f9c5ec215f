// Package results is the on-disk contract of kvbench: the record types that
// capture writes and analyze reads, their Parquet schemas with versions, and
// the run manifest.
//
// It sits at the bottom of the pipeline (capture → results ← ingest) and
// imports no other kvbench package. A run bundle is a directory
// <results-dir>/<run_id>/ holding one Parquet file per table and a
// manifest.json written last; a bundle without a manifest is incomplete.
// Every file is written to a temporary name, fsynced and renamed, so a reader
// never sees half a file under its final name.
//
// Values are stored in base units: durations in nanoseconds (columns ending
// in _ns), sizes in bytes (_bytes), wall-clock stamps as Unix nanoseconds
// (_unix_ns). Scaling for display happens in report. SCHEMA.md beside this
// file documents every column.
package results
