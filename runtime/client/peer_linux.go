//go:build linux

package client

import (
	"net"
	"syscall"
)

// serverUID reads the uid of the process that created the socket at the
// other end of nc (SO_PEERCRED, which the kernel records when the server
// called listen).
func serverUID(nc net.Conn) (uint32, bool, error) {
	uc, ok := nc.(*net.UnixConn)
	if !ok {
		return 0, false, nil
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, false, err
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return 0, false, err
	}
	if cerr != nil {
		return 0, false, cerr
	}
	return cred.Uid, true, nil
}
