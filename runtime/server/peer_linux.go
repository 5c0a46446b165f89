//go:build linux

package server

import (
	"net"
	"syscall"
)

// peerCred reads SO_PEERCRED from a Unix connection.
func peerCred(nc net.Conn) (PeerCred, bool) {
	uc, ok := nc.(*net.UnixConn)
	if !ok {
		return PeerCred{}, false
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return PeerCred{}, false
	}
	var cred *syscall.Ucred
	var cerr error
	err = raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	})
	if err != nil || cerr != nil {
		return PeerCred{}, false
	}
	return PeerCred{UID: cred.Uid, GID: cred.Gid, PID: cred.Pid}, true
}
