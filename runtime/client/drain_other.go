//go:build !unix

package client

import "syscall"

// rawRead cannot read without waiting here: a reader that gave up stops
// at once, even if the rest of its frame is already there.
func rawRead(rc syscall.RawConn, p []byte) (int, error) { return 0, errAborted }

func rawWrite(rc syscall.RawConn, b []byte) int { return 0 }
