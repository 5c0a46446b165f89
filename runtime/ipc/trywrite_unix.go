//go:build unix

package ipc

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// tryWriter writes to a socket without waiting for it to take more.
type tryWriter interface {
	// tryWrite writes what the socket takes of b at once: n bytes, done
	// when that is all of b. An error other than "would block" (or an
	// expired deadline, which a fresh one replaces) is a failed write.
	tryWrite(b []byte) (n int, done bool, err error)
}

// newTryWriter returns a tryWriter for a Unix or TCP socket, nil for
// anything else (whose Write method must not be bypassed).
func newTryWriter(w io.Writer) tryWriter {
	var sc interface {
		net.Conn
		syscall.Conn
	}
	switch c := w.(type) {
	case *net.UnixConn:
		sc = c
	case *net.TCPConn:
		sc = c
	default:
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	t := &rawTry{rc: rc, nc: sc}
	t.fn = t.write
	return t
}

// rawTry is a tryWriter on a socket's file descriptor. Its fields carry
// one tryWrite's arguments and results to fn, bound once so that a write
// allocates nothing; the BatchWriter has one writer at a time.
type rawTry struct {
	rc  syscall.RawConn
	nc  net.Conn // for errors
	fn  func(fd uintptr) bool
	b   []byte
	n   int
	err error
}

func (t *rawTry) write(fd uintptr) bool {
	for {
		n, err := syscall.Write(int(fd), t.b)
		if err == syscall.EINTR {
			continue
		}
		t.n, t.err = max(n, 0), err
		return true // never wait here: the caller arms a deadline first
	}
}

func (t *rawTry) tryWrite(b []byte) (int, bool, error) {
	t.b = b
	err := t.rc.Write(t.fn)
	n, werr := t.n, t.err
	t.b, t.n, t.err = nil, 0, nil
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return 0, false, nil // an old deadline: the caller arms a new one
	case err != nil:
		return 0, false, err
	case werr == syscall.EAGAIN:
		return n, false, nil
	case werr != nil: // as the socket's Write would say it
		return n, false, &net.OpError{Op: "write", Net: t.nc.LocalAddr().Network(),
			Source: t.nc.LocalAddr(), Addr: t.nc.RemoteAddr(), Err: os.NewSyscallError("write", werr)}
	}
	return n, n == len(b), nil
}
