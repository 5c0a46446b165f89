//go:build linux

package client

import (
	"net"
	"syscall"
)

// serverCred reads the uid and pid of the process that created the socket
// at the other end of nc (SO_PEERCRED, which the kernel records when the
// server called listen).
func serverCred(nc net.Conn) (uid uint32, pid int32, ok bool, err error) {
	uc, ok := nc.(*net.UnixConn)
	if !ok {
		return 0, 0, false, nil
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, 0, false, err
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return 0, 0, false, err
	}
	if cerr != nil {
		return 0, 0, false, cerr
	}
	return cred.Uid, cred.Pid, true, nil
}

// socketFile names the socket file at path by device and inode; zero when
// it cannot be read.
func socketFile(path string) (dev, ino uint64) {
	var st syscall.Stat_t
	if syscall.Stat(path, &st) != nil {
		return 0, 0
	}
	return uint64(st.Dev), st.Ino
}
