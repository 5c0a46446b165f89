package client

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
)

// GoneError is the cause of a ConnError when the server closed or reset the
// connection: it names the socket path the caller gave and says what that
// usually means. It unwraps to the error the socket reported (io.EOF,
// syscall.EPIPE, syscall.ECONNRESET).
type GoneError struct {
	Path string
	Err  error // as the socket reported it (its text may name the server's bound address)
	what error // io.EOF, syscall.EPIPE or syscall.ECONNRESET: what Error shows
}

func (e *GoneError) Error() string {
	return fmt.Sprintf("the server at %s closed the connection (%v): it closes connections idle longer than its idle timeout, those over its connection limit, and all of them when it shuts down", e.Path, e.what)
}

func (e *GoneError) Unwrap() error { return e.Err }

// describeCause rewrites why a connection broke so that the error names
// path, the socket as the caller gave it, and never the address the server
// bound (a server that binds in a private directory and links the socket
// into place shows that private name as the peer's address).
func describeCause(path string, cause error) error {
	if cause == nil {
		return nil
	}
	var short error
	switch {
	case errors.Is(cause, io.EOF):
		short = io.EOF
	case errors.Is(cause, syscall.EPIPE):
		short = syscall.EPIPE
	case errors.Is(cause, syscall.ECONNRESET):
		short = syscall.ECONNRESET
	}
	if short != nil {
		return &GoneError{Path: path, Err: cause, what: short}
	}
	if oe, ok := cause.(*net.OpError); ok && oe.Addr != nil && oe.Addr.String() != path {
		return &net.OpError{Op: oe.Op, Net: oe.Net, Addr: &net.UnixAddr{Name: path, Net: "unix"}, Err: oe.Err}
	}
	return cause
}
