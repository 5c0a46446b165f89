#!/bin/sh
# demo.sh: a guided tour of mgmtgen, procd and mgmtctl (what `make demo` runs).
#
# It shows the schema and regenerates gen/mgmt from it with mgmtgen (the
# go:generate line of gen/mgmt/doc.go, with -v: it writes only files whose
# content changed and says so), builds procd and mgmtctl into a temporary
# directory, starts procd with
# the processes of demo.yaml on a temporary runtime dir, drives it with
# mgmtctl, shuts it down with SIGTERM and checks that no child is left
# running and that the socket is gone. Needs Go, coreutils and /bin/sh, on
# Linux. Exit status 0 when every step worked.
#
# Environment: GO (the go command, default go), DEMO_SECONDS (how long
# logs -f runs, default 3), KEEP_TMP=1 keeps the temp dir.
set -eu

cd "$(dirname "$0")/../.."
GO=${GO:-go}
SECONDS_EACH=${DEMO_SECONDS:-3}

work=$(mktemp -d "${TMPDIR:-/tmp}/procd-demo.XXXXXX")
procd_pid=
pgids=

# cleanup runs on every exit: procd and any child it left are ended, the
# temporary directory removed.
cleanup() {
	status=$?
	trap - EXIT INT TERM
	if [ -n "$procd_pid" ] && kill -0 "$procd_pid" 2>/dev/null; then
		kill -TERM "$procd_pid" 2>/dev/null || true
		wait "$procd_pid" 2>/dev/null || true
	fi
	for g in $pgids; do kill -KILL "-$g" 2>/dev/null || true; done
	if [ "${KEEP_TMP:-}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step() { printf '\n==> %s\n' "$*"; }
fail() {
	echo "demo: FAILED: $*" >&2
	if [ -s "$work/procd.log" ]; then echo "--- procd's log:" >&2; cat "$work/procd.log" >&2; fi
	exit 1
}
# show prints a command line, then runs it.
show() { echo "\$ $*"; "$@"; }

# alive: process $1 exists and is not a zombie.
alive() {
	[ -r "/proc/$1/stat" ] || return 1
	read -r _ _ st _ 2>/dev/null <"/proc/$1/stat" || return 1
	[ "$st" != Z ]
}

# group_alive: some live process is in process group $1 (procd starts every
# child as the leader of its own group, so its pid is the group id).
group_alive() {
	for f in /proc/[0-9]*/stat; do
		read -r _ _ st _ pgrp _ 2>/dev/null <"$f" || continue
		if [ "$pgrp" = "$1" ] && [ "$st" != Z ]; then return 0; fi
	done
	return 1
}

# leftovers prints the live processes that carry this demo's marker in
# their environment: procd passes its environment on to every child, and
# they to theirs.
leftovers() {
	for d in /proc/[0-9]*; do
		case "$( { tr '\0' '\n' <"$d/environ"; } 2>/dev/null)" in
		*"$marker"*) if alive "${d#/proc/}"; then echo "${d#/proc/}"; fi ;;
		esac
	done
}

# pid_of prints the pid of process $1 from mgmtctl status, "-" if none.
pid_of() {
	mgmtctl status "$1" | while read -r key val; do
		if [ "$key" = pid: ]; then echo "$val"; fi
	done
}

step "mgmtgen: the protocol is data, schema/mgmt.yaml; its calls (docs left out):"
sed -n '/^calls:/,$p' schema/mgmt.yaml | grep -v -e 'doc:' -e '^      '

step "regenerate gen/mgmt from it: the go:generate line of gen/mgmt/doc.go, with -v"
grep -m1 '^//go:generate go tool mgmtgen -schema' gen/mgmt/doc.go
echo "\$ cd gen/mgmt && go tool mgmtgen -v -schema ../../schema/mgmt.yaml -out ."
(cd gen/mgmt && "$GO" tool mgmtgen -v -schema ../../schema/mgmt.yaml -out .) || fail "mgmtgen failed"
echo "the typed client it generated (gen/mgmt/mgmt_client.go):"
grep '^func (c \*Client) [A-Z][a-zA-Z]*(ctx' gen/mgmt/mgmt_client.go | sed 's/ {$//'

step "build procd and mgmtctl into $work/bin"
"$GO" build -o "$work/bin/procd" ./examples/procd
"$GO" build -o "$work/bin/mgmtctl" ./cmd/mgmtctl
PATH="$work/bin:$PATH"
echo "built; \$TMP/bin is first on PATH (\$TMP is $work)."

step "start procd with examples/procd/demo.yaml (chatty, flaky, sleeper)"
# mgmtctl finds the socket through MGMTCTL_RUNTIME_DIR (or --runtime-dir).
export MGMTCTL_RUNTIME_DIR="$work/run"
marker="PROCD_DEMO_RUN=$work"
env "$marker" procd -config examples/procd/demo.yaml -runtime-dir "$work/run" \
	-shutdown-timeout 10s 2>"$work/procd.log" &
procd_pid=$!
echo "\$ procd -config examples/procd/demo.yaml -runtime-dir \$TMP/run &   # pid $procd_pid"
i=0
until [ -S "$work/run/manager.sock" ]; do
	kill -0 "$procd_pid" 2>/dev/null || fail "procd exited at start"
	i=$((i + 1))
	[ "$i" -le 100 ] || fail "procd never created its socket"
	sleep 0.1
done
echo "serving on \$TMP/run/manager.sock; export MGMTCTL_RUNTIME_DIR=\$TMP/run"
sleep 1.5 # let the processes say something

step "list the processes"
show mgmtctl list

step "status of one process"
show mgmtctl status chatty

step "logs: a snapshot of chatty's last 6 lines per stream (its stdout to stdout, its stderr to stderr)"
show mgmtctl logs -n 6 chatty 2>&1

step "follow chatty's stdout for ${SECONDS_EACH}s (Ctrl-C ends it; here timeout sends SIGINT)"
show timeout --preserve-status -s INT "$SECONDS_EACH" mgmtctl logs -f -n 2 --stream stdout chatty ||
	fail "logs -f did not end cleanly on SIGINT"

step "watch flaky's lifecycle events until it has crashed and been restarted once (then SIGINT, as Ctrl-C)"
echo "\$ mgmtctl events --process flaky"
mgmtctl events --process flaky >"$work/events" 2>&1 &
events_pid=$!
# flaky crashes a second after each start and is restarted after a backoff
# (0.5s, 1s, 2s...): wait (at most 20s) for a crash followed by a start.
i=0
until sed -n '/process.crashed/,$p' "$work/events" | grep -q 'process.started'; do
	kill -0 "$events_pid" 2>/dev/null || { cat "$work/events"; fail "events ended early"; }
	i=$((i + 1))
	[ "$i" -le 200 ] || { cat "$work/events"; fail "no crash and restart of flaky within 20s"; }
	sleep 0.1
done
kill -INT "$events_pid"
wait "$events_pid" || fail "events did not end cleanly on SIGINT"
cat "$work/events"

step "flaky's stderr: one line per crash so far"
show mgmtctl logs --stream stderr flaky 2>&1

step "stop flaky and sleeper (sleeper takes half a second to finish up)"
show mgmtctl stop flaky sleeper
show mgmtctl logs sleeper

step "list again"
show mgmtctl list

step "start sleeper again"
show mgmtctl start sleeper

step "shut procd down with SIGTERM"
pgids="$(pid_of chatty) $(pid_of sleeper)"
echo "\$ kill -TERM $procd_pid   # chatty and sleeper (pids $pgids) still run"
kill -TERM "$procd_pid"
status=0
wait "$procd_pid" || status=$?
pid=$procd_pid
procd_pid=
[ "$status" -eq 0 ] || fail "procd exited with status $status"
echo "procd exited with status 0. Its log:"
cat "$work/procd.log"

step "check: nothing left running, socket removed"
! alive "$pid" || fail "procd (pid $pid) is still running"
for g in $pgids; do
	! group_alive "$g" || fail "process group $g is still running"
done
left=$(leftovers)
[ -z "$left" ] || fail "processes started by procd still running: $left"
[ ! -e "$work/run/manager.sock" ] || fail "the socket is still there"
echo "no process started by procd is alive (none carries $marker);"
echo "the process groups of chatty and sleeper ($pgids) are empty; \$TMP/run/manager.sock is gone."
show mgmtctl list 2>&1 || true

step "done"
