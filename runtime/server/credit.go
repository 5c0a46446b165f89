package server

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/status"
)

// Flow control of mux streams (docs/wire.md, "Flow control"). The client
// grants each mux stream a window, in StreamCredit frames (ipc.
// MsgStreamCredit, the stream's seq): the first right after the stream's
// request, then more as its reader takes frames. The reader applies a
// credit at once (creditFrame), to the stream running with that seq; a
// credit for a seq that runs no mux stream (unknown, ended, or a stream
// that is not mux) is ignored. A mux stream's Send sends while the stream
// has credit left, frames and bytes both above zero; each frame takes one
// frame and its payload's bytes (so the last frame may take the byte
// credit below zero: a frame of any size goes when some byte credit is
// left). Without credit, Send waits for it, for the stream's context to
// end, or for StreamSendTimeout: then the stream ends alone with
// ResourceExhausted ("client stopped reading the stream for 10s"), its
// StreamEnd says so, and the connection and its other calls go on. Ready
// and StreamEnd take no credit.
//
// Bounds: the credit a stream holds saturates at maxCreditFrames and
// maxCreditBytes (a hostile peer's huge grants cost nothing but lifting
// the stream's flow control, the client's own loss); a credit frame holds
// nothing once applied.

// Saturation bounds of a mux stream's credit.
const (
	maxCreditFrames = 1 << 31
	maxCreditBytes  = 1 << 40
)

// credit is a mux stream's window: what it may still send.
type credit struct {
	mu     sync.Mutex
	frames int64
	bytes  int64
	wake   chan struct{} // capacity 1: a grant came
}

func newCredit() *credit { return &credit{wake: make(chan struct{}, 1)} }

// grant adds a StreamCredit's frames and bytes, saturating.
func (cr *credit) grant(frames uint32, bytes uint64) {
	cr.mu.Lock()
	cr.frames = min(cr.frames+int64(frames), maxCreditFrames)
	cr.bytes = min(cr.bytes+int64(min(bytes, maxCreditBytes)), maxCreditBytes)
	cr.mu.Unlock()
	select {
	case cr.wake <- struct{}{}:
	default:
	}
}

// has reports whether a frame may be sent now.
func (cr *credit) has() bool {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	return cr.frames > 0 && cr.bytes > 0
}

// take accounts a frame of n payload bytes sent.
func (cr *credit) take(n int) {
	cr.mu.Lock()
	cr.frames--
	cr.bytes -= int64(n)
	cr.mu.Unlock()
}

// await waits until the stream has credit (nil), its context ends, or
// timeout passes (a ResourceExhausted error naming method).
func (cr *credit) await(ctx context.Context, timeout time.Duration, method string) error {
	if cr.has() {
		return nil
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case <-cr.wake:
			if cr.has() {
				return nil
			}
		case <-ctx.Done():
			return fmt.Errorf("server: stream ended: %w", ctx.Err())
		case <-t.C:
			return status.Errorf(status.ResourceExhausted, "server: %s stream: client stopped reading the stream for %v", method, timeout)
		}
	}
}

// creditFrame is the reader's part of a StreamCredit (r): applied to the
// mux stream with r's seq, if one runs; a malformed one is ignored
// (logged), as is one for no stream.
func (c *conn) creditFrame(r *request) {
	var sc ipc.StreamCredit
	err := ipc.DecodePayload(r.body(), &sc)
	seq := r.h.SeqNo
	c.controlDone(r)
	if err != nil {
		c.s.log.Debug("server: malformed stream credit ignored", "protocol", c.s.table.Protocol, "seq", seq, "err", err)
		return
	}
	c.mu.Lock()
	st := c.mstreams[seq]
	c.mu.Unlock()
	if st != nil && st.credit != nil {
		st.credit.grant(sc.Frames, sc.Bytes)
	}
}
