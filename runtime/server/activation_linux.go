package server

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// checkListeningUnix returns an error wrapping ErrNotUnixListener unless fd
// is a Unix stream socket in the listening state.
func checkListeningUnix(fd int) error {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		if err == unix.ENOTSOCK {
			return fmt.Errorf("%w: not a socket", ErrNotUnixListener)
		}
		return fmt.Errorf("%w: %v", ErrNotUnixListener, err)
	}
	if _, ok := sa.(*unix.SockaddrUnix); !ok {
		return fmt.Errorf("%w: a %s socket", ErrNotUnixListener, familyName(sa))
	}
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotUnixListener, err)
	}
	if typ != unix.SOCK_STREAM {
		return fmt.Errorf("%w: a datagram or seqpacket socket (type %d)", ErrNotUnixListener, typ)
	}
	acc, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotUnixListener, err)
	}
	if acc == 0 {
		return fmt.Errorf("%w: not listening (a connected socket? the server takes Accept=no sockets)", ErrNotUnixListener)
	}
	return nil
}

func familyName(sa unix.Sockaddr) string {
	switch sa.(type) {
	case *unix.SockaddrInet4:
		return "TCP/IPv4"
	case *unix.SockaddrInet6:
		return "TCP/IPv6"
	}
	return fmt.Sprintf("%T", sa)
}
