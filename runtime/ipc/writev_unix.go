//go:build unix && !linux

package ipc

import "syscall"

// writev writes what it can of the first piece of v: a short writev,
// which the caller continues (no writev(2) without golang.org/x/sys here).
func writev(fd int, v [][]byte) (int, error) { return syscall.Write(fd, v[0]) }
