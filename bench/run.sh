#!/usr/bin/env bash
# run.sh runs mgmtgen's comparison benchmarks and prints a benchstat table
# with one column per implementation (benchstat -col /impl).
#
#   ./run.sh                 full run: -count=8, results in results/bench.txt
#   ./run.sh -smoke          CI: tests, then every benchmark once (-benchtime=1x)
#   COUNT=3 BENCH='RoundTrip|Parallel' BENCHTIME=1s ./run.sh
#
# Environment: COUNT (default 8), BENCH (regexp, default .), BENCHTIME
# (default 500ms), OUT (default results/bench.txt).
set -euo pipefail
cd "$(dirname "$0")"

BENCHSTAT=golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

if [[ "${1:-}" == "-smoke" ]]; then
	go vet ./...
	go test -count=1 -run . -bench . -benchtime=1x -timeout 5m ./...
	exit 0
fi

count=${COUNT:-8}
bench=${BENCH:-.}
benchtime=${BENCHTIME:-500ms}
out=${OUT:-results/bench.txt}
mkdir -p "$(dirname "$out")"

{
	echo "# nproc: $(nproc)"
	echo "# cpu-model: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	echo "# go: $(go env GOVERSION)"
	echo "# date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$out"
go test -run '^$' -bench "$bench" -benchtime "$benchtime" -count "$count" -timeout 120m . | tee -a "$out"
# One benchstat table per group, so each group's first implementation is its
# baseline column: reflect for the codec, raw for the rest.
for group in Encode Decode FrameDecode RoundTrip Parallel LogsFollow IdleConn; do
	if grep -q "^Benchmark$group/" "$out"; then
		echo
		echo "## $group"
		go run "$BENCHSTAT" -filter ".name:$group" -col /impl "$out"
	fi
done
# The paired benchmarks have no impl column: each reports X/raw metrics,
# one table per metric (their sec/op, a block of every impl, means nothing).
for group in Paired PairedParallel PairedFollow; do
	if grep -q "^Benchmark$group/" "$out"; then
		echo
		echo "## $group"
		go run "$BENCHSTAT" -filter ".name:$group" "$out"
	fi
done
