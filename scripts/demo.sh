#!/usr/bin/env bash
# End-to-end demo on the simulator: build capture and analyze, capture a B1
# (cpu_only) and a B2 (cpu_disk) run against `capture sim`, analyze them and
# print where the report is. Usage: scripts/demo.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-demo-out}
bin=$out/bin
mkdir -p "$bin"
echo "building capture and analyze into $bin" >&2
go build -o "$bin/capture" ./cmd/capture
go build -o "$bin/analyze" ./cmd/analyze

stamp=$(date -u +%Y%m%dT%H%M%SZ)
results=$out/runs/$stamp
sim_pid=
cleanup() { [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null; true; }
trap cleanup EXIT

for arm in B1:cpu_only B2:cpu_disk; do
  tier=${arm%%:*} kv=${arm#*:}
  info=$out/sim-$tier.json
  # Port 0: the simulator picks free ports and prints them as its first line.
  "$bin/capture" sim --kv-mode "$kv" --preset spark-8b --time-scale 0.05 \
    --listen 127.0.0.1:0 --kvbm-listen 127.0.0.1:0 --system-listen 127.0.0.1:0 >"$info" 2>"$out/sim-$tier.log" &
  sim_pid=$!
  for _ in $(seq 100); do [ -s "$info" ] && break; sleep 0.1; done
  api=$(sed -n 's/.*"api":"\([^"]*\)".*/\1/p' "$info" | head -1)
  [ -n "$api" ] || { echo "simulator did not start; see $out/sim-$tier.log" >&2; exit 1; }
  echo "simulator $kv on $api" >&2
  "$bin/capture" run --base-url "http://$api" --tier-mode "$tier" --scenario standard \
    --prompt-set mixed --long-range 1000:3000 --requests 200 --warmup 8 --concurrency 4 \
    --max-tokens 16 --stream --run-id "demo_${tier}_$stamp" --results-dir "$results"
  cleanup; sim_pid=
done

"$bin/analyze" report "$results" --out "$out/report"
echo "report: $out/report/report.md"
