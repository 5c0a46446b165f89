// Command procd is the reference manager of the mgmt protocol: it supervises
// the real child processes of a small YAML config and serves gen/mgmt on a
// Unix socket, so mgmtctl and cliwrap clients can list, start, stop, read
// the logs of and watch them.
//
// Usage:
//
//	procd -config procd.yaml [-runtime-dir DIR | -socket PATH] [-shutdown-timeout DUR]
//
// The socket is <runtime_dir>/manager.sock unless the config or -socket
// names it. Started by a service manager with a socket (systemd socket
// activation: LISTEN_PID, LISTEN_FDS), procd serves every socket passed
// instead and leaves their files to the service manager. On SIGINT or
// SIGTERM procd stops every child within its stop_timeout, closes the
// server and removes the socket it created. See README.md for the config
// file, the management semantics and example systemd units.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/mgmtgen/mgmtgen/examples/procd/supervisor"
	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/server"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	os.Exit(run(os.Args[1:], log))
}

func run(args []string, log *slog.Logger) int {
	fs := flag.NewFlagSet("procd", flag.ContinueOnError)
	config := fs.String("config", "", "config `file` (required)")
	runtimeDir := fs.String("runtime-dir", "", "serve on `dir`/manager.sock, overriding the config")
	socket := fs.String("socket", "", "serve on this socket `path`, overriding the config")
	shutdownTimeout := fs.Duration("shutdown-timeout", 30*time.Second, "longest wait for children and calls at shutdown")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: procd -config FILE [-runtime-dir DIR | -socket PATH] [-shutdown-timeout DUR]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *config == "" || fs.NArg() > 0 || (*runtimeDir != "" && *socket != "") {
		fs.Usage()
		return 2
	}
	cfg, err := supervisor.LoadConfig(*config)
	if err != nil {
		fmt.Fprintln(os.Stderr, "procd:", err)
		return 1
	}
	switch {
	case *socket != "":
		cfg.Socket = *socket
	case *runtimeDir != "":
		cfg.Socket = filepath.Join(*runtimeDir, supervisor.SocketName)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, cfg, log, *shutdownTimeout); err != nil {
		fmt.Fprintln(os.Stderr, "procd:", err)
		return 1
	}
	return 0
}

// serve runs the supervisor and the server until ctx ends, then shuts both
// down: children first (so event subscribers see them stop), then the server.
func serve(ctx context.Context, cfg *supervisor.Config, log *slog.Logger, timeout time.Duration) error {
	d, err := newDaemon(cfg, log)
	if err != nil {
		return err
	}
	return d.run(ctx, timeout)
}

// daemon is a supervisor and the server in front of it.
type daemon struct {
	cfg *supervisor.Config
	log *slog.Logger
	sup *supervisor.Supervisor
	h   *handler
	srv *mgmt.Server

	inherited bool // serving sockets a service manager passed, not cfg.Socket
}

func newDaemon(cfg *supervisor.Config, log *slog.Logger) (*daemon, error) {
	sup, err := supervisor.New(cfg)
	if err != nil {
		return nil, err
	}
	h := &handler{sup: sup, log: log, ready: make(chan struct{})}
	srv, inherited, err := newServer(cfg, h, log)
	if err != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return nil, errors.Join(err, sup.Shutdown(ctx)) // no child runs yet
	}
	return &daemon{cfg: cfg, log: log, sup: sup, h: h, srv: srv, inherited: inherited}, nil
}

// newServer serves the sockets a service manager passed (socket
// activation), if any, else cfg.Socket; inherited says which.
func newServer(cfg *supervisor.Config, h *handler, log *slog.Logger) (*mgmt.Server, bool, error) {
	ls, err := server.ActivationListeners()
	if err != nil {
		return nil, false, err
	}
	for _, l := range ls {
		log.Info("socket activation: serving an inherited socket", "socket", l.Addr().String())
	}
	opts := mgmt.ServerOptions{SocketPath: cfg.Socket, Listeners: ls, Handler: h, Logger: log}
	if cfg.Access != nil {
		policy, err := accessPolicy(cfg.Access)
		if err != nil {
			closeAll(ls)
			return nil, false, err
		}
		opts.Access = policy.Allow
	}
	srv, err := mgmt.NewServer(opts)
	if err != nil {
		closeAll(ls)
		return nil, false, err
	}
	return srv, len(ls) > 0, nil
}

func closeAll(ls []net.Listener) {
	for _, l := range ls {
		l.Close()
	}
}

// accessLevels are the access levels of the mgmt protocol (schema/mgmt.yaml's
// access:; a test checks they match): read for List, Status, Logs and
// Events, admin for Start and Stop.
var accessLevels = []string{"read", "admin"}

// accessPolicy is the config's access: section as the server's policy;
// a level the protocol does not have is an error.
func accessPolicy(grants map[string]supervisor.AccessGrant) (server.AccessPolicy, error) {
	p := make(server.AccessPolicy, len(grants))
	for level, g := range grants {
		if !slices.Contains(accessLevels, level) {
			return nil, fmt.Errorf("access: unknown access level %q (the protocol's are %s)", level, strings.Join(accessLevels, ", "))
		}
		p[level] = server.Grant{UIDs: g.UIDs, GIDs: g.GIDs}
	}
	return p, nil
}

// run starts serving and the processes, and shuts down when ctx ends.
func (d *daemon) run(ctx context.Context, timeout time.Duration) error {
	if err := d.srv.Start(); err != nil {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		return errors.Join(err, d.sup.Shutdown(shutdownCtx))
	}
	if d.inherited {
		d.log.Info("serving inherited sockets", "processes", len(d.cfg.Processes))
	} else {
		d.log.Info("serving", "socket", d.cfg.Socket, "processes", len(d.cfg.Processes))
	}
	if err := d.sup.StartAll(); err != nil {
		d.log.Error("starting processes", "err", err)
	}
	close(d.h.ready)
	<-ctx.Done()
	d.log.Info("shutting down: stopping processes")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := errors.Join(d.sup.Shutdown(shutdownCtx), d.srv.Close(shutdownCtx))
	switch {
	case err == nil && d.inherited:
		d.log.Info("shut down: every process stopped; inherited sockets left to the service manager")
	case err == nil:
		d.log.Info("shut down: every process stopped, socket removed")
	}
	return err
}
