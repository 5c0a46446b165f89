// Command mgmtctl manages a daemon that serves the mgmt protocol (procd, or
// any cliwrap-compatible manager) over its Unix socket.
//
// Usage:
//
//	mgmtctl [--socket PATH | --runtime-dir DIR | --host ADDR... | --hosts FILE] [--server-uid UID]
//	        [--json] [--timeout DUR] [--remote-mgmtctl CMD] COMMAND [ARGS]
//
// Commands:
//
//	list                         the processes: ID, NAME, STATE, PID, RSS
//	status ID                    one process, as "key: value" lines
//	start ID...                  start processes; prints "ID: running (pid N, rss R)" each
//	stop ID...                   stop processes (SIGTERM, then SIGKILL after their stop
//	                             timeout) and wait until they have ended; "ID: stopped" each
//	logs [--stream stdout|stderr|all] [-f] [--since DUR] [-n N] ID
//	                             buffered output; -f keeps following new output
//	events [--process IDS] [--type TYPES]
//	                             lifecycle events as they happen (comma-separated filters;
//	                             an unknown process id is an error);
//	                             procd's types: process.registered, starting, started,
//	                             stopping, stopped, crashed, restarting, failed
//	dial-stdio                   pipe stdin and stdout to the socket, until the manager
//	                             closes the connection (what --host runs on the remote side)
//
// --json may also follow the command ("mgmtctl list --json"). It
// prints JSON: an array for list, start and stop, an object for status, one
// object per line for events. --timeout (default 10s) bounds connecting,
// each call (a response stalled mid-frame included), a logs snapshot and the
// snapshot that starts logs -f; a follow or events then waits indefinitely;
// start and stop wait for the manager without a deadline unless --timeout
// is given (Ctrl-C gives up).
//
// Text for humans has control characters escaped (\x1b, \n, \u009b, ...);
// logs prints the process's bytes exactly as they are, that being its job. Several ids of start or stop are
// handled at once; each result is reported in the order given, and the exit
// status is 1 if any failed. logs with --stream all reads both streams;
// without -f it prints the stdout snapshot, then the stderr one.
//
// The socket is found as follows: --socket; else --runtime-dir DIR, meaning
// DIR/manager.sock; else $MGMTCTL_SOCKET; else $MGMTCTL_RUNTIME_DIR/manager.sock;
// else $XDG_RUNTIME_DIR/procd/manager.sock when XDG_RUNTIME_DIR is set; else
// /run/procd/manager.sock for root and $HOME/.procd/manager.sock for others:
// directories where no other user can create the socket first. A socket, or
// a directory on its path, that belongs to another user than root or the
// caller is refused, and so is a manager running as one (SO_PEERCRED);
// --server-uid UID trusts that user too.
//
// --host ssh://[user@]host[:port][/path/to/socket] (repeatable) or --hosts
// FILE (one address a line, # comments) reach managers on other hosts
// through the system ssh (internal/sshdial): ssh -W /path/to/socket with a
// local OpenSSH 9.4 or later, else (and when the remote sshd refuses
// forwarding) "mgmtctl --socket PATH dial-stdio" run on the remote host,
// which --remote-mgmtctl CMD (or $MGMT_SSH_REMOTE_MGMTCTL) names. ssh runs
// with BatchMode=yes and ControlMaster=auto/ControlPersist=60s (control
// sockets in $MGMT_SSH_CONTROL_DIR, default /tmp/mgmt-ssh-UID), so repeated
// calls do not pay a handshake; $MGMT_SSH_COMMAND replaces "ssh" (split at
// spaces). ssh's standard error becomes part of the error. Over ssh, ssh
// checks the host key and the login; the manager sees the login user as
// its peer; a remote dial-stdio checks the manager's uid as a local
// command does, ssh -W checks nothing on the remote side.
//
// With several hosts, list, status, start and stop run on all of them at
// once and print in the order given: list as one table with a HOST column,
// the others with each line prefixed by "HOST: "; --json prints one array
// whose objects have a "host" field first. A failing host is reported as
// "mgmtctl: HOST: ..." without stopping the others, then "mgmtctl: CMD: N
// of M hosts failed", and the exit status is 1. logs, events and
// dial-stdio take one host.
//
// Standard output receives the results (and a process's stdout logs);
// standard error receives its stderr logs and every message. Exit status:
//
//	0        success; help (-h) prints the usage on standard output
//	1        an operation failed without a status code: no manager, the
//	         connection broke, a follow or events stream ended by the manager,
//	         or a manager that speaks only the base protocol (a cliwrap
//	         manager, or procd on a legacy connection) answered with an
//	         error text
//	2        usage error
//	64+N     the manager answered with status code N (runtime/status), on a
//	         connection that negotiated the protocol extensions:
//	         65 Canceled, 67 InvalidArgument, 68 DeadlineExceeded (also
//	         --timeout expiring), 69 NotFound (procd: unknown process id),
//	         70 AlreadyExists, 71 PermissionDenied, 72 ResourceExhausted (the
//	         manager is full), 73 FailedPrecondition (procd: already running,
//	         stopping), 74 Aborted, 75 OutOfRange, 76 Unimplemented, 77
//	         Internal, 78 Unavailable (shutting down), 79 DataLoss, 80
//	         Unauthenticated; a plain error without a code (Unknown) is 1
//	130      interrupted: Ctrl-C (or SIGTERM) ended a call before it finished
//
// start and stop of several ids exit with the code all their failures
// share, else 1. Ctrl-C ends logs -f and events cleanly (status 0); during
// any other call it cancels the call (status 130).
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
