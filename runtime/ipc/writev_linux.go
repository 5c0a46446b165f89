package ipc

import "golang.org/x/sys/unix"

// writev is one writev(2) of the pieces v.
func writev(fd int, v [][]byte) (int, error) { return unix.Writev(fd, v) }
