package client

import (
	"encoding/binary"
	"errors"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// When a call counts as written: as soon as any byte of its request frame
// has been handed to the socket (a Write that returned with part of the
// frame accepted). A call whose connection broke before that (the
// connection was already broken when it began, or the write that carried
// its frame failed before reaching it, or its frame was still queued)
// fails with an error that also matches ErrNotSent: the server cannot have
// seen it, so sending it again cannot run it twice. Every other failure of
// a call on a broken connection may follow a request the server read and
// acted on, and is never marked so. Frames go out in seq order, so the
// unsent calls are those from one seq on.

// ErrNotSent matches (errors.Is) the error of a call that failed on a
// broken connection before any byte of its request was written. Redialer
// sends such a call again on a new connection.
var ErrNotSent = errors.New("client: request not sent")

// notSentError is a call's error when its request was not sent: it reads
// as the connection's error and matches that and ErrNotSent.
type notSentError struct{ err error }

func (e *notSentError) Error() string   { return e.err.Error() }
func (e *notSentError) Unwrap() []error { return []error{e.err, ErrNotSent} }

// Header offsets (package ipc's table) of the fields walked here.
const lengthOffset = 13

// firstUnsentLocked is the seq of the first call whose frame no write has
// begun: the first frame of b (the batch a failed write carried) starting
// at or after n, the bytes that write got out; else the first frame still
// queued; else the next seq. c.mu is held.
func (c *Conn) firstUnsentLocked(b []byte, n int) uint64 {
	for off := 0; off+ipc.HeaderSize <= len(b); {
		if off >= n {
			return binary.BigEndian.Uint64(b[off+seqOffset:])
		}
		off += ipc.HeaderSize + int(binary.BigEndian.Uint32(b[off+lengthOffset:]))
	}
	if len(c.wq) >= ipc.HeaderSize {
		return binary.BigEndian.Uint64(c.wq[seqOffset:])
	}
	return c.seq + 1
}
