#!/usr/bin/env bash
# instructions.sh counts the user-space instructions one op of a benchmark
# runs, with valgrind's cachegrind: a figure that load does not move, for
# cuts too small to show in time on a busy machine (README, "Round 3,
# session 5").
#
#   ./instructions.sh 'RoundTrip/Status/impl=raw$' 'RoundTrip/Status/impl=mgmtgen$'
#
# Each argument names one benchmark (a regexp matching exactly one). It is
# run at -benchtime 1x and at N x (N: env N, default 20000) under
# cachegrind; instructions per op = (count at N x - count at 1x) / N, so the
# setup (server, dial, hello) cancels out. Prints the TOP (env, default 25)
# functions per op, the total, and the total outside package runtime. The
# kernel is not counted. Compare functions and the total outside the
# runtime: the runtime's share moves from run to run, because under
# valgrind threads run one at a time and slowly (timers, spinning Ms), and
# every call is slow, so the server's inline calls go to handler goroutines
# whose stack growth (runtime.copystack, pcvalue, ...) is valgrind's, not
# the benchmark's. Go reads the clock with
# RDTSCP, which valgrind lacks: GODEBUG=cpu.rdtscp=off. Needs valgrind
# (Debian: apt-get install valgrind).
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")"

n=${N:-20000}
top=${TOP:-25}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go test -c -o "$dir/bench.test" .

# count FILE: "function instructions" lines of a cachegrind output.
count() {
	cg_annotate --auto=no --threshold=0 "$1" |
		awk '/file:function/ { on = 1; next }
			on && $1 ~ /^[0-9,]+$/ { f = $0; sub(/^[^)]*\) +[^:]*:/, "", f); gsub(/,/, "", $1); s[f] += $1 }
			END { for (f in s) print s[f] "\t" f }'
}

for b in "$@"; do
	for x in 1 "$n"; do
		GODEBUG=cpu.rdtscp=off valgrind --tool=cachegrind --cache-sim=no \
			--cachegrind-out-file="$dir/$x.out" "$dir/bench.test" -test.run '^$' \
			-test.bench "$b" -test.benchtime "${x}x" >"$dir/$x.log" 2>&1 ||
			{ cat "$dir/$x.log"; exit 1; }
		count "$dir/$x.out" | sort -t$'\t' -k2 >"$dir/$x.txt"
	done
	echo "## $b: instructions per op"
	join -t$'\t' -1 2 -2 2 -a 2 -e 0 -o 0,1.1,2.1 "$dir/1.txt" "$dir/$n.txt" |
		awk -F'\t' -v n="$n" '{ d = ($3 - $2) / n; t += d; if ($1 !~ /^(runtime|internal\/runtime)[.\/]/) u += d; print d "\t" $1 }
			END { printf "%.0f\ttotal\n%.0f\ttotal outside the runtime (package runtime and internal/runtime/...)\n", t, u > "/dev/stderr" }' 2>"$dir/total" |
		sort -t$'\t' -k1,1 -g -r | awk -F'\t' -v top="$top" 'NR <= top { printf "%8.0f  %s\n", $1, $2 }'
	awk -F'\t' '{ printf "%8s  %s\n", $1, $2 }' "$dir/total"
	echo
done
