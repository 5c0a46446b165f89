package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/internal/sockperm"
	"github.com/mgmtgen/mgmtgen/internal/sshdial"
	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/status"
)

// dial checks the socket's path, connects, and checks the manager's uid,
// turning the usual failures into messages that say what to do.
func (e *env) dial() (*mgmt.Client, error) {
	if e.target != nil {
		return e.dialSSH()
	}
	if err := e.checkPath(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(e.ctx, e.timeout)
	defer cancel()
	c, err := mgmt.DialOptions(ctx, e.socket, mgmt.ClientOptions{ServerUID: e.serverUID})
	if err == nil {
		return c, nil
	}
	return nil, e.dialError(err)
}

// dialSSH connects to the --host manager through ssh (internal/sshdial).
// What is checked there: the host's key (known_hosts) and the login, by
// ssh; the manager sees the login user as its peer. The local client
// cannot check the remote manager's uid (a remote dial-stdio does).
func (e *env) dialSSH() (*mgmt.Client, error) {
	ctx, cancel := context.WithTimeout(e.ctx, e.timeout)
	defer cancel()
	t := *e.target
	c, err := mgmt.DialOptions(ctx, e.socket, mgmt.ClientOptions{
		Dial: func(ctx context.Context, _ string) (net.Conn, error) { return e.ssh.Dial(ctx, t) },
	})
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", e.socket, err)
	}
	return c, nil
}

// dialError explains why dialing the local socket failed.
func (e *env) dialError(err error) error {
	var ue *client.ServerUIDError
	if errors.As(err, &ue) {
		trusted := "root"
		if ue.Want != 0 {
			trusted = "root or " + userName(ue.Want)
		}
		return fmt.Errorf("refusing %s: the manager runs as %s, not as %s (--server-uid %d trusts it)",
			e.socket, userName(ue.UID), trusted, ue.UID)
	}
	fi, statErr := os.Stat(e.socket)
	switch {
	case errors.Is(statErr, os.ErrNotExist):
		return fmt.Errorf("no manager socket at %s (is the manager running? see --socket, --runtime-dir)", e.socket)
	case statErr == nil && fi.Mode()&os.ModeSocket == 0:
		return fmt.Errorf("%s is not a socket", e.socket)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("nothing is listening on %s (a stale socket: the manager is not running)", e.socket)
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("permission denied on %s (the socket is private to the manager's user)", e.socket)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("connecting to %s: no answer within %v (--timeout)", e.socket, e.timeout)
	}
	return fmt.Errorf("connecting to %s: %w", e.socket, err)
}

// checkPath refuses a socket that another user than root, us or the
// --server-uid user could have put there: one owned by such a user, or in a
// directory (or behind a symlink) such a user owns or may write.
func (e *env) checkPath() error {
	uids := []uint32{uint32(os.Geteuid())}
	if e.serverUID != nil {
		uids = append(uids, *e.serverUID)
	}
	trust := sockperm.Owners(uids...)
	if _, err := sockperm.Walk(filepath.Dir(e.socket), trust); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil // dial says there is no socket
		}
		return fmt.Errorf("refusing %s: %v (--server-uid trusts another user)", e.socket, err)
	}
	if err := sockperm.File(e.socket, trust); err != nil {
		return fmt.Errorf("refusing %s: %v (--server-uid trusts another user)", e.socket, err)
	}
	return nil
}

// bound ends ctx's calls on c when ctx ends, even a response stalled in
// the middle of a frame: c is closed. The returned func releases it.
func bound(ctx context.Context, c *mgmt.Client) func() bool {
	return context.AfterFunc(ctx, func() { c.Close() })
}

// timedOut turns err into a message naming --timeout when ctx's deadline
// ended the call, or saying it was interrupted when Ctrl-C did (the
// connection's closing error would only confuse).
func (e *env) timedOut(ctx context.Context, what string, err error) error {
	if what != "" {
		what += ": "
	}
	if err != nil && e.ctx.Err() != nil {
		return fmt.Errorf("%sinterrupted: %w", what, context.Canceled)
	}
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return status.Errorf(status.DeadlineExceeded, "%sno answer from the manager at %s within %v (--timeout)", what, e.socket, e.timeout)
	}
	return err
}

// userName names uid as "uid 1000 (alice)", or "uid 1000" when unknown.
func userName(uid uint32) string {
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil {
		return fmt.Sprintf("uid %d (%s)", uid, u.Username)
	}
	return fmt.Sprintf("uid %d", uid)
}

// explain rewrites errors that would mislead: a full manager, a connection
// the manager closed or reset, and socket addresses other than the path the
// user gave (a server's private bind name shows in a connection's address).
func (e *env) explain(err error) error {
	if err == nil || errors.Is(err, errSilent) {
		return err
	}
	var se *sshdial.Error
	if errors.As(err, &se) { // ssh's own message says what went wrong
		what, _, _ := strings.Cut(err.Error(), ":")
		return fmt.Errorf("%s: %v", what, se)
	}
	var re *client.RemoteError
	if errors.As(err, &re) && strings.HasPrefix(re.Text, server.FullText+": ") {
		return fmt.Errorf("the manager at %s is full: %s", e.socket, strings.TrimPrefix(re.Text, server.FullText+": "))
	}
	what, _, _ := strings.Cut(err.Error(), ":")
	switch {
	case errors.Is(err, client.ErrClosed) && errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%s: the manager at %s closed the connection without answering (it closes connections idle for too long, and all of them when it shuts down)", what, e.socket)
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return fmt.Errorf("%s: the manager at %s dropped the connection without answering (idle too long, full, refusing this user, or shutting down)", what, e.socket)
	}
	msg := err.Error()
	var oe *net.OpError
	if errors.As(err, &oe) {
		msg = strings.ReplaceAll(msg, oe.Error(), fmt.Sprintf("%s %s: %v", oe.Op, e.socket, oe.Err))
	}
	if msg != err.Error() {
		return errors.New(msg)
	}
	return err
}
