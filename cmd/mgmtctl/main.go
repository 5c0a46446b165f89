// Command mgmtctl manages a daemon that serves the mgmt protocol (procd, or
// any cliwrap-compatible manager) over its Unix socket.
//
// Usage:
//
//	mgmtctl [--socket PATH | --runtime-dir DIR] [--json] [--timeout DUR] COMMAND [ARGS]
//
// Commands:
//
//	list                         the processes: ID, NAME, STATE, PID, RSS
//	status ID                    one process
//	start ID...                  start processes
//	stop ID...                   stop processes (SIGTERM, then SIGKILL after their stop timeout)
//	logs [--stream stdout|stderr|all] [-f] [--since DUR] [-n N] ID
//	                             buffered output; -f keeps following new output
//	events [--process IDS] [--type TYPES]
//	                             lifecycle events as they happen (comma-separated filters)
//
// The socket is found as follows: --socket; else --runtime-dir DIR, meaning
// DIR/manager.sock; else $MGMTCTL_SOCKET; else $MGMTCTL_RUNTIME_DIR/manager.sock;
// else $XDG_RUNTIME_DIR/procd/manager.sock when XDG_RUNTIME_DIR is set; else
// /tmp/procd-$UID/manager.sock.
//
// Standard output receives the results (and a process's stdout logs);
// standard error receives its stderr logs and every message. Exit status: 0
// on success, 1 when an operation failed (unknown id, no manager, remote
// error), 2 on usage errors. Ctrl-C ends logs -f and events cleanly (status 0).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
