package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// dialStdio is "mgmtctl dial-stdio": it connects to the local manager's
// socket, with every check a command makes, and pipes standard input to it
// and its answers to standard output, until the manager closes the
// connection. A client on another host runs it through ssh (internal/
// sshdial) when ssh cannot forward to the socket itself. Messages go to
// standard error, which ssh carries back into the remote client's error.
func (e *env) dialStdio(args []string) error {
	if len(args) > 0 {
		return usagef("dial-stdio takes no arguments")
	}
	if e.target != nil {
		return usagef("dial-stdio connects to a local socket: it is what runs on the other end of --host")
	}
	if err := e.checkPath(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(e.ctx, e.timeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", e.socket)
	if err != nil {
		return e.dialError(err)
	}
	defer nc.Close()
	uc := nc.(*net.UnixConn)
	if err := e.checkPeer(uc); err != nil {
		return err
	}
	stop := context.AfterFunc(e.ctx, func() { nc.Close() })
	defer stop()
	in := e.stdin
	if in == nil {
		in = os.Stdin
	}
	go func() {
		io.Copy(uc, in)
		uc.CloseWrite() // the client is done: the manager sees the end
	}()
	_, err = io.Copy(e.stdout, uc)
	if err != nil && e.ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("dial-stdio %s: %w", e.socket, err)
	}
	return nil
}

// checkPeer refuses a manager running as another user than root, us or
// --server-uid (SO_PEERCRED), as dialing does for every other command.
func (e *env) checkPeer(uc *net.UnixConn) error {
	raw, err := uc.SyscallConn()
	if err != nil {
		return err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return err
	}
	if cerr != nil {
		return fmt.Errorf("%s: reading the manager's credentials: %w", e.socket, cerr)
	}
	want := uint32(os.Geteuid())
	if e.serverUID != nil {
		want = *e.serverUID
	}
	if cred.Uid == 0 || cred.Uid == want {
		return nil
	}
	trusted := "root"
	if want != 0 {
		trusted = "root or " + userName(want)
	}
	return fmt.Errorf("refusing %s: the manager runs as %s, not as %s (--server-uid %d trusts it)",
		e.socket, userName(cred.Uid), trusted, cred.Uid)
}
