// Runs one SQL query in DuckDB (through @duckdb/node-api) and prints the
// rows as JSON. Used by tests to cross-check kvbench's Parquet and numbers
// with an independent engine. KVBENCH_DUCKDB_DIR is the npm prefix where @duckdb/node-api is installed.
import { createRequire } from 'node:module';
const require = createRequire(process.env.KVBENCH_DUCKDB_DIR + '/');
const { DuckDBInstance } = require('@duckdb/node-api');
const inst = await DuckDBInstance.create(':memory:');
const con = await inst.connect();
const r = await con.runAndReadAll(process.argv[2]);
console.log(JSON.stringify(r.getRowObjectsJson()));
