//go:build unix

package ipc

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// tryWriter writes to a socket, arming its write deadline only when the
// socket does not take everything at once.
type tryWriter interface {
	// writeArmed writes all of b. It first writes what the socket takes
	// without waiting; only when the socket is full does it arm the
	// write deadline, d from then (once: later waits of the same write
	// keep it), and wait for room. The deadline is left armed afterwards:
	// one that has passed by the next write (which finds it at once) is
	// cleared there, so a write the socket takes whole never arms one.
	writeArmed(b []byte, d time.Duration) error
	// writevArmed is writeArmed for the pieces v, written in order with
	// writev (v's elements are consumed).
	writevArmed(v [][]byte, d time.Duration) error
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
// one write's arguments and state to fn, bound once so that a write
// allocates nothing; the BatchWriter has one writer at a time.
type rawTry struct {
	rc    syscall.RawConn
	nc    net.Conn // its write deadline, and errors
	fn    func(fd uintptr) bool
	b     []byte        // what is left to write
	v     [][]byte      // or, with writevArmed, the pieces left
	d     time.Duration // the deadline armed when the socket is full
	armed bool          // this write armed its deadline
	err   error         // the write's failure, as the socket's Write says it
}

// write is the RawConn's function: it writes what the socket takes, arms
// the deadline the first time the socket is full and then lets the
// runtime wait for room (false), which calls it again.
func (t *rawTry) write(fd uintptr) bool {
	for len(t.b) > 0 || len(t.v) > 0 {
		var n int
		var err error
		if t.v != nil {
			n, err = writev(int(fd), t.v)
		} else {
			n, err = syscall.Write(int(fd), t.b)
		}
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			if !t.armed {
				t.armed = true
				if err := t.nc.SetWriteDeadline(time.Now().Add(t.d)); err != nil {
					t.err = err
					return true
				}
			}
			return false
		case err != nil:
			t.err = t.opError(os.NewSyscallError("write", err))
			return true
		case n == 0:
			t.err = t.opError(io.ErrShortWrite)
			return true
		}
		if t.v != nil {
			t.v = consume(t.v, n)
		} else {
			t.b = t.b[n:]
		}
	}
	return true
}

// consume drops the first n bytes of the pieces v (clearing the pieces
// written whole) and returns what is left; nil when nothing is.
func consume(v [][]byte, n int) [][]byte {
	for len(v) > 0 && n >= len(v[0]) {
		n -= len(v[0])
		v[0] = nil
		v = v[1:]
	}
	if len(v) == 0 {
		return nil
	}
	v[0] = v[0][n:]
	return v
}

func (t *rawTry) writeArmed(b []byte, d time.Duration) error {
	t.b = b
	return t.run(d)
}

func (t *rawTry) writevArmed(v [][]byte, d time.Duration) error {
	t.v = consume(v, 0) // skips empty pieces
	return t.run(d)
}

// run writes t.b or t.v (see writeArmed).
func (t *rawTry) run(d time.Duration) error {
	t.d, t.armed, t.err = d, false, nil
	err := t.rc.Write(t.fn)
	if errors.Is(err, os.ErrDeadlineExceeded) && !t.armed && t.err == nil {
		// An earlier write's deadline that has passed: this write has
		// not begun; it goes without one until the socket is full.
		if err = t.nc.SetWriteDeadline(time.Time{}); err == nil {
			err = t.rc.Write(t.fn)
		}
	}
	werr := t.err
	t.b, t.v, t.err = nil, nil, nil
	switch {
	case werr != nil:
		return werr
	case err != nil:
		var oe *net.OpError
		if errors.As(err, &oe) { // the RawConn's "raw-write": say it as the socket's Write does
			err = t.opError(oe.Err)
		}
		return err
	}
	return nil
}

func (t *rawTry) opError(err error) error {
	return &net.OpError{Op: "write", Net: t.nc.LocalAddr().Network(), Source: t.nc.LocalAddr(), Addr: t.nc.RemoteAddr(), Err: err}
}
