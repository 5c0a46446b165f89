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
