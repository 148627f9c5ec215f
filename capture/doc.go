// Package capture is the first stage of the kvbench pipeline: it runs
// scenarios against an OpenAI-compatible server (Dynamo + TensorRT-LLM with
// KVBM, or the simulator) and writes raw per-request records into a run
// bundle through package results.
//
// A scenario is data: Config is validated and turned into a Plan without
// touching the network (--dry-run prints it); Run executes any plan with
// one writer goroutine that owns the files. capture stores raw observations
// only; every statistic is derived later by analyze. capture never imports
// stats, report or ingest.
package capture
