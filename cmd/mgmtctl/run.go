package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/internal/exitcode"
	"github.com/mgmtgen/mgmtgen/internal/sshdial"
)

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// usageError is a mistake on the command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// errSilent is a failure already reported on stderr: no further message;
// the exit status is that of the error it wraps (silently), else 1.
var errSilent = errors.New("")

// silently is err, already reported on stderr: it matches errSilent and
// keeps err's status code for the exit status.
func silently(err error) error { return &silentError{err} }

type silentError struct{ err error }

func (e *silentError) Error() string        { return "" }
func (e *silentError) Unwrap() error        { return e.err }
func (e *silentError) Is(target error) bool { return target == errSilent }

// errHelp asks for the usage text on stdout and exit status 0.
var errHelp = errors.New("help")

// env carries what every command needs.
type env struct {
	ctx        context.Context
	socket     string
	json       bool
	timeout    time.Duration
	timeoutSet bool      // --timeout given: it also bounds start and stop
	serverUID  *uint32   // --server-uid: the manager's uid, besides root; nil: ours
	stdin      io.Reader // dial-stdio's; nil: os.Stdin
	stdout     io.Writer
	stderr     io.Writer

	hosts    []sshdial.Target       // --host, --hosts: several: a fleet (fleet.go)
	target   *sshdial.Target        // the one host this env talks to; nil: the local socket
	ssh      *sshdial.Dialer        // how to reach target
	listRows func([]mgmt.ListEntry) // set for a fleet's host: list hands its rows over
}

const usageText = `usage: mgmtctl [--socket PATH | --runtime-dir DIR | --host ssh://[user@]host[:port][/socket]... | --hosts FILE]
               [--server-uid UID] [--json] [--timeout DUR] COMMAND [ARGS]

commands:
  list                                   list processes: ID, NAME, STATE, PID, RSS
  status ID                              show one process
  start ID...                            start processes
  stop ID...                             stop processes (waits until they have ended)
  logs [--stream stdout|stderr|all] [-f] [--since DUR] [-n N] ID
                                         buffered output; -f follows new output
  events [--process IDS] [--type TYPES]  watch lifecycle events (comma-separated filters)
  dial-stdio                             pipe stdin/stdout to the socket (what --host runs remotely
                                         when ssh cannot forward to the socket itself)

socket: --socket, else --runtime-dir DIR/manager.sock, else $MGMTCTL_SOCKET,
else $MGMTCTL_RUNTIME_DIR/manager.sock, else $XDG_RUNTIME_DIR/procd/manager.sock,
else /run/procd/manager.sock for root, $HOME/.procd/manager.sock for others.
A socket (or its directory) of another user than root or you is refused,
and so is a manager running as one, unless --server-uid names that user.
--host (repeatable) or --hosts FILE (one address a line, # comments) reach managers
on other hosts through ssh (BatchMode, shared connections; $MGMT_SSH_COMMAND replaces
"ssh"; --remote-mgmtctl CMD is the remote mgmtctl, default mgmtctl). With several
hosts, list, status, start and stop run on all at once, output gains a HOST column
(--json: a "host" field), and a failing host does not stop the others (exit 1).
exit status: 0 ok, 1 failed operation, 2 usage error, 64+N a call failed with
status code N (69 NotFound, 71 PermissionDenied, ...), 130 interrupted.
Ctrl-C ends -f and events (status 0).
`

// run is the whole command; it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{ctx: ctx, stdout: stdout, stderr: stderr}
	err := e.dispatch(args)
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errHelp):
		fmt.Fprint(stdout, usageText)
		return exitOK
	case errors.Is(err, errSilent):
		return e.exitStatus(err)
	case errors.As(err, &ue):
		if ue.msg != "" {
			fmt.Fprintln(stderr, "mgmtctl:", esc(ue.msg))
		}
		fmt.Fprint(stderr, usageText)
		return exitUsage
	default:
		for _, line := range strings.Split(e.explain(err).Error(), "\n") { // errors.Join's lines
			fmt.Fprintln(stderr, "mgmtctl:", esc(line))
		}
		return e.exitStatus(err)
	}
}

// exitStatus is the exit status of a failed command: 130 when Ctrl-C (or
// SIGTERM) ended it, else by err's status code (internal/exitcode: 64+N for
// a code, 1 without one).
func (e *env) exitStatus(err error) int {
	if e.ctx.Err() != nil {
		return exitcode.Interrupted
	}
	return exitcode.For(err)
}

func (e *env) dispatch(args []string) error {
	fs := flag.NewFlagSet("mgmtctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	socket := fs.String("socket", "", "socket path")
	runtimeDir := fs.String("runtime-dir", "", "runtime directory holding manager.sock")
	fs.BoolVar(&e.json, "json", false, "JSON output")
	fs.DurationVar(&e.timeout, "timeout", 10*time.Second, "timeout of each unary call")
	serverUID := fs.Int64("server-uid", -1, "trust a manager running as this `UID`")
	var hostFlags hostsFlag
	fs.Var(&hostFlags, "host", "manager at ssh://[user@]host[:port][/socket] (repeatable)")
	hostsFile := fs.String("hosts", "", "`file` of ssh:// manager addresses, one a line")
	remote := fs.String("remote-mgmtctl", "", "remote `command` for dial-stdio (default mgmtctl)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return usagef("%v", err)
	}
	fs.Visit(func(f *flag.Flag) { e.timeoutSet = e.timeoutSet || f.Name == "timeout" })
	if *socket != "" && *runtimeDir != "" {
		return usagef("--socket and --runtime-dir exclude each other")
	}
	if e.timeout <= 0 {
		return usagef("--timeout must be positive")
	}
	hosts, err := parseHosts(hostFlags, *hostsFile)
	if err != nil {
		return err
	}
	if len(hosts) > 0 && (*socket != "" || *runtimeDir != "") {
		return usagef("--host and --hosts exclude --socket and --runtime-dir: give the socket in the ssh:// address")
	}
	e.ssh = &sshdial.Dialer{Remote: *remote}
	switch len(hosts) {
	case 0:
		e.socket = resolveSocket(*socket, *runtimeDir, os.Geteuid(), os.Getenv)
	case 1:
		e.target, e.socket = &hosts[0], hosts[0].Raw
	default:
		e.hosts, e.socket = hosts, "(several hosts)"
	}
	if e.socket == "" {
		return errors.New("no default socket path without $HOME: give --socket or --runtime-dir")
	}
	if *serverUID >= 0 {
		if *serverUID > math.MaxUint32 {
			return usagef("--server-uid %d is not a uid", *serverUID)
		}
		u := uint32(*serverUID)
		e.serverUID = &u
	}
	if fs.NArg() == 0 {
		return usagef("no command")
	}
	cmd, rest := fs.Arg(0), fs.Args()[1:]
	if len(e.hosts) > 1 {
		return e.fleet(cmd, rest)
	}
	return e.command(cmd, rest)
}

// command runs one command against e's manager.
func (e *env) command(cmd string, rest []string) error {
	switch cmd {
	case "list":
		return e.list(rest)
	case "status":
		return e.status(rest)
	case "start", "stop":
		return e.startStop(cmd, rest)
	case "logs":
		return e.logs(rest)
	case "events":
		return e.events(rest)
	case "dial-stdio":
		return e.dialStdio(rest)
	case "help":
		return errHelp
	}
	return usagef("unknown command %q", cmd)
}

// resolveSocket applies the documented lookup order.
// Every default is in a directory only root or the user can create entries
// in (/run, the user's runtime directory or home), so no other user can
// create it first; "" when there is none (no HOME).
func resolveSocket(socket, runtimeDir string, uid int, getenv func(string) string) string {
	switch {
	case socket != "":
		return socket
	case runtimeDir != "":
		return filepath.Join(runtimeDir, "manager.sock")
	case getenv("MGMTCTL_SOCKET") != "":
		return getenv("MGMTCTL_SOCKET")
	case getenv("MGMTCTL_RUNTIME_DIR") != "":
		return filepath.Join(getenv("MGMTCTL_RUNTIME_DIR"), "manager.sock")
	case getenv("XDG_RUNTIME_DIR") != "":
		return filepath.Join(getenv("XDG_RUNTIME_DIR"), "procd", "manager.sock")
	case uid == 0:
		return "/run/procd/manager.sock"
	case getenv("HOME") != "":
		return filepath.Join(getenv("HOME"), ".procd", "manager.sock")
	}
	return ""
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseInterleaved parses flags that may come before or after positional
// arguments ("logs -f web" and "logs web -f"), returning the positionals.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, errHelp
			}
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
