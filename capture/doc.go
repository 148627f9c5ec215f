// Package capture is the first stage of the kvbench pipeline: it runs
// scenarios against an OpenAI-compatible server (Dynamo + TensorRT-LLM with
// KVBM, or the simulator) and writes raw per-request records into a run
// bundle through package results; analyze (ingest, stats, report) reads
// the bundles later. Package campaign drives it for many runs; its
// samplers live in capture/telemetry.
//
// A run goes Config → Plan → bundle. RunFlags is the one flag table that
// turns `capture run` flags (or a campaign's) into a validated Config,
// which nothing changes afterwards. Run resolves the model, runs the
// preflight (every metrics endpoint scraped once, the KVBM one required,
// the cache directory writable) before anything is sent, calibrates
// prompt sizes and builds the Plan once; the plan is immutable and the
// runner only executes it, with one writer goroutine that owns the
// records. Rows become durable in sealed part files as the run goes and a
// journal records its phases, so Recover can rebuild the bundle of a
// killed run; a lost server, a write error or a second interrupt stops a
// run early (stop.go). DryRun builds the same plan offline. capture stores
// raw observations only; every statistic is derived by analyze.
package capture
