#!/usr/bin/env bash
# The main job end to end on the simulator: build capture and analyze, run
# the campaign in examples/sim-demo.yaml (B1 and B2, three interleaved
# repetitions each; the campaign starts and stops `capture sim` for each
# arm), analyze the bundles and print where the report is.
# Running it again resumes: complete runs are kept, the rest re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=demo-out/bin
mkdir -p "$bin"
echo "building capture and analyze into $bin" >&2
go build -o "$bin/capture" ./cmd/capture
go build -o "$bin/analyze" ./cmd/analyze
"$bin/capture" campaign examples/sim-demo.yaml
"$bin/analyze" report demo-out/runs/sim-demo --out demo-out/report
echo "open demo-out/report/report.md"
