package server

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// awaitHangup blocks, reading nothing, until the peer of nc hangs up (it
// returns true) or a read of nc would fail, e.g. its read deadline passed
// (false, with that error). The reader uses it while a stream occupies a
// connection whose read buffer the peer has filled.
func awaitHangup(nc net.Conn) (bool, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false, errNoHangup
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false, err
	}
	hung := false
	err = rc.Read(func(fd uintptr) bool {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
		n, err := unix.Poll(fds, 0)
		hung = err == nil && n > 0 && fds[0].Revents&(unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR) != 0
		return hung // false: wait until the socket is readable again (new data or a hang-up)
	})
	return hung, err
}

// discardUnread reads and drops, without blocking, up to max bytes that
// the peer of nc has sent and nobody read, so that closing nc ends the
// connection in order instead of resetting it.
func discardUnread(nc net.Conn, max int) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		if n, err := unix.IoctlGetInt(int(fd), unix.SIOCINQ); err != nil || n == 0 {
			return // nothing unread: the usual case
		}
		buf := make([]byte, 4096)
		for n := 0; n < max; {
			m, err := syscall.Read(int(fd), buf) // the socket is non-blocking
			if m <= 0 || err != nil {
				return
			}
			n += m
		}
	})
}
