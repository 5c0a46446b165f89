//go:build linux

package server

import (
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// peerCred reads SO_PEERCRED and SO_PEERGROUPS from a Unix connection.
func peerCred(nc net.Conn) (PeerCred, []uint32, bool) {
	uc, ok := nc.(*net.UnixConn)
	if !ok {
		return PeerCred{}, nil, false
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return PeerCred{}, nil, false
	}
	var cred *syscall.Ucred
	var groups []uint32
	var cerr error
	err = raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
		groups = peerGroups(int(fd))
	})
	if err != nil || cerr != nil {
		return PeerCred{}, nil, false
	}
	return PeerCred{UID: cred.Uid, GID: cred.Gid, PID: cred.Pid}, groups, true
}

// maxPeerGroups bounds the supplementary groups read (Linux's NGROUPS_MAX).
const maxPeerGroups = 65536

// peerGroups reads SO_PEERGROUPS (Linux 4.13): the peer's supplementary
// groups when it connected; nil where the kernel does not say.
func peerGroups(fd int) []uint32 {
	for n := 64; n <= maxPeerGroups; n *= 4 {
		buf := make([]uint32, n)
		size := uint32(4 * n)
		_, _, errno := syscall.Syscall6(syscall.SYS_GETSOCKOPT, uintptr(fd), syscall.SOL_SOCKET, unix.SO_PEERGROUPS,
			uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&size)), 0)
		switch {
		case errno == 0:
			return buf[:size/4]
		case errno != syscall.ERANGE:
			return nil
		}
	}
	return nil
}
