#!/usr/bin/env bash
# Out of CI (nothing under go test runs this): build and sign the same
# .pkpass with Lintel's Go wallet package and with passkit-generator, one
# after the other on the same single core, and print both rates and their
# ratio. Needs Go, Node.js 18+ and npm (first run only: npm install).
#
#   wallet/bench/passkit-generator/run.sh [N passes for node, default 200]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
fixtures="$here/fixtures"
n="${1:-200}"
cpu="${BENCH_CPU:-0}"
pin=()
command -v taskset >/dev/null && pin=(taskset -c "$cpu")

cd "$repo"
echo "== exporting fixtures to $fixtures"
LINTEL_WALLET_BENCH_FIXTURES="$fixtures" go test ./wallet -run '^TestExportBenchFixtures$' -count=1 >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/wallet.test" ./wallet

[ -d "$here/node_modules" ] || (cd "$here" && npm install --no-audit --no-fund)

echo "== Go (GOMAXPROCS=1, pinned to CPU $cpu)"
go_out=$(LINTEL_WALLET_BENCH_FIXTURES="$fixtures" "${pin[@]}" "$tmp/wallet.test" \
  -test.run '^$' -test.bench 'BuildPass|RSA2048Sign' -test.benchtime 3s -test.cpu 1 -test.benchmem)
echo "$go_out" | grep '^Benchmark'

echo "== passkit-generator (pinned to CPU $cpu)"
node_out=$(cd "$here" && "${pin[@]}" node bench.js "$fixtures" "$n")
echo "$node_out" | head -n 1

go_rate=$(echo "$go_out" | awk '$1 ~ /^BenchmarkBuildPass(-1)?$/ { for (i = 1; i < NF; i++) if ($(i+1) == "passes/s") print $i }')
node_rate=$(echo "$node_out" | awk '$1 == "passkit_generator_passes_per_second" { print $2 }')
awk -v g="$go_rate" -v n="$node_rate" 'BEGIN { printf "== Go %.1f passes/s vs passkit-generator %.1f passes/s: %.1fx\n", g, n, g / n }'
