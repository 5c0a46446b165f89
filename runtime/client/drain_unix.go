//go:build unix

package client

import (
	"io"
	"syscall"
)

// rawRead makes one read(2) on rc's descriptor, which the runtime keeps
// non-blocking, so it never waits: errAborted when nothing is there.
func rawRead(rc syscall.RawConn, p []byte) (int, error) {
	var n int
	var serr error
	err := rc.Read(func(fd uintptr) bool {
		for {
			n, serr = syscall.Read(int(fd), p)
			if serr != syscall.EINTR {
				return true
			}
		}
	})
	switch {
	case err != nil:
		return 0, err
	case serr == syscall.EAGAIN || serr == syscall.EWOULDBLOCK:
		return 0, errAborted
	case serr != nil:
		return 0, serr
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// rawWrite makes one write(2) of b on rc's descriptor without waiting and
// returns how much of b the socket took (0 when it had no room, or on an
// error, which the next write through the Conn then meets).
func rawWrite(rc syscall.RawConn, b []byte) int {
	var n int
	rc.Write(func(fd uintptr) bool {
		for {
			m, err := syscall.Write(int(fd), b)
			if err != syscall.EINTR {
				n = max(m, 0)
				return true
			}
		}
	})
	return n
}
