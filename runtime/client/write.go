package client

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// The writing role (see the package doc). c.wbusy says it is held; its
// holder is the only goroutine that writes c.nc. Frames reach the socket in
// the order they were numbered: numbering, registering the call and either
// taking the role or queueing happen in one critical section, and the
// holder writes its own frame before anything queued after it.
//
// The coalescing writer in runtime/ipc (ipc.BatchWriter) is not
// used here: its callers wait until their own frame is written, which
// would add a second blocking wait to every queued call (the first being
// the wait for the answer), its waits cannot end with a context, and
// numbering has to happen inside the queue's critical section to keep seq
// order.

// writerTurns is how many batches queued by others a caller writes after
// its own frame before it leaves the rest to the flush goroutine, so that
// a caller's latency is not held hostage by a busy connection.
const writerTurns = 4

// keepQueue is the largest queue buffer kept for reuse.
const keepQueue = 64 << 10

// seqOffset is the offset of the header's seq field (see package ipc).
const seqOffset = 5

// send numbers frame (a whole request frame, seq 0) with the next seq,
// registers cl (nil: a stream request, which dedicates the connection) and
// writes the frame, or queues it behind the writing role's holder. A call
// over a budget first waits, bounded by ctx, for a slot or queue space.
// It fails only when nothing was registered; once cl is registered, a
// write failure reaches it as its result.
func (c *Conn) send(ctx context.Context, frame []byte, cl *call) error {
	c.mu.Lock()
	if c.err != nil || c.streaming || c.overLocked(len(frame), cl != nil) { // else admitLocked returns nil at once
		if err := c.admitLocked(ctx, len(frame), cl != nil); err != nil {
			c.mu.Unlock()
			return err
		}
	}
	if cl == nil && c.callsLocked() > 0 {
		c.mu.Unlock()
		return errors.New("client: calls in flight; cannot start a stream")
	}
	c.seq++
	if cl != nil {
		patchSeqs(frame, cl.hdrLen, c.seq)
		if cl.ms != nil { // a mux stream's first credit
			binary.BigEndian.PutUint64(frame[cl.ms.creditAt+seqOffset:], c.seq)
		}
	} else { // the request, and a StreamCredit after it (Stream)
		for at := 0; at+ipc.HeaderSize <= len(frame); at += ipc.HeaderSize + int(binary.BigEndian.Uint32(frame[at+lengthOffset:])) {
			binary.BigEndian.PutUint64(frame[at+seqOffset:], c.seq)
		}
	}
	frame = c.withHelloLocked(frame)
	switch {
	case cl != nil && cl.ms != nil:
		cl.seq, cl.ms.seq = c.seq, c.seq
		c.streams[c.seq] = cl.ms
		c.muxed = true
	case cl != nil:
		cl.seq = c.seq
		c.pending.put(c.seq, cl)
	default:
		c.streaming = true
	}
	if c.wbusy {
		c.wq = append(c.wq, frame...)
		c.mu.Unlock()
		return nil
	}
	c.wbusy = true
	if cl != nil && ctx.Done() != nil {
		c.writer = cl
	}
	c.mu.Unlock()
	c.writeTurns(ctx, frame, cl)
	if cl == nil {
		return c.Err()
	}
	return nil
}

// admitLocked waits, with c.mu held except while it waits, until the
// connection can take a request of n bytes: a free call slot (isCall) and
// room in the write queue, or a free writer for a request larger than the
// queue.
func (c *Conn) admitLocked(ctx context.Context, n int, isCall bool) error {
	for {
		if err := c.usableLocked(); err != nil {
			return err
		}
		if !c.overLocked(n, isCall) {
			return nil
		}
		ch := c.freedLocked()
		c.mu.Unlock()
		select {
		case <-ch:
			c.mu.Lock()
		case <-ctx.Done():
			c.mu.Lock()
			return ctx.Err()
		}
	}
}

// overLocked reports whether a request of n bytes (isCall: a call's) is
// over a budget now: the call slots, or the queue's room.
func (c *Conn) overLocked(n int, isCall bool) bool {
	full := isCall && c.pending.len()+len(c.streams) >= c.opts.MaxPendingCalls
	return full || c.wbusy && len(c.wq)+n > c.opts.MaxQueuedBytes
}

// writeTurns holds the writing role for cl (nil: a stream request): it
// writes frame, then up to writerTurns batches queued meanwhile, and hands
// what is left to the flush goroutine. cl's context ending interrupts a
// blocked write: with part of it written the connection is poisoned; with
// none, the bytes go back to the head of the queue for the flush goroutine
// and cl goes on to wait (and withdraw) like any queued call.
func (c *Conn) writeTurns(ctx context.Context, frame []byte, cl *call) {
	if cl != nil && ctx.Done() != nil {
		cl.conn = c
		stop := context.AfterFunc(ctx, cl.writeAbortFn)
		defer func() {
			if !stop() {
				cl.abandoned = true // writeAbort may still run: never recycle cl
			}
		}()
	}
	b, own := frame, true
	for turn := 0; ; turn++ {
		if b != nil {
			st := c.writeOut(b, cl)
			if !own {
				c.recycleQueue(b)
			}
			if st == writeFailed {
				return
			}
			if st == writeRequeued {
				c.mu.Lock()
				c.leaveWriterLocked(cl)
				c.mu.Unlock()
				go c.flush()
				return
			}
		}
		c.mu.Lock()
		if len(c.wq) == 0 || turn == writerTurns || (cl != nil && cl.aborted.Load()) {
			c.leaveWriterLocked(cl)
			more := len(c.wq) > 0
			if !more {
				c.wbusy = false
				c.freeLocked()
			}
			if cl != nil && cl.ms == nil {
				cl.lead = c.takeRoleLocked(cl) // saves await a critical section
			}
			c.mu.Unlock()
			if more {
				go c.flush()
			}
			return
		}
		b, own = c.takeQueueLocked(), false
		c.mu.Unlock()
	}
}

// flush holds the writing role for the frames a caller left queued: it
// writes batches until the queue is empty, or a write fails.
func (c *Conn) flush() {
	for {
		c.mu.Lock()
		if len(c.wq) == 0 {
			c.wbusy = false
			c.freeLocked()
			c.mu.Unlock()
			return
		}
		batch := c.takeQueueLocked()
		c.mu.Unlock()
		st := c.writeOut(batch, nil)
		c.recycleQueue(batch)
		if st != writeDone {
			return
		}
	}
}

// takeQueueLocked swaps the queue for the spare buffer and returns it;
// room frees for waiting callers.
func (c *Conn) takeQueueLocked() []byte {
	batch := c.wq
	c.wq, c.wspare = c.wspare[:0], nil
	c.freeLocked()
	return batch
}

func (c *Conn) recycleQueue(batch []byte) {
	if cap(batch) > keepQueue {
		return
	}
	c.mu.Lock()
	if c.wspare == nil {
		c.wspare = batch[:0]
	}
	c.mu.Unlock()
}

// leaveWriterLocked ends cl's hold on the writing role as far as its
// context goes: a deadline its writeAbort set is cleared, and a later one
// cannot be set.
func (c *Conn) leaveWriterLocked(cl *call) {
	if cl != nil && c.writer == cl {
		c.writer = nil
		if cl.aborted.Load() {
			c.nc.SetWriteDeadline(time.Time{})
		}
	}
}

// writeAbort is the AfterFunc of a writing caller's context: it wakes the
// caller's blocked write.
func (cl *call) writeAbort() {
	c := cl.conn
	c.mu.Lock()
	if c.writer == cl {
		cl.aborted.Store(true)
		c.nc.SetWriteDeadline(aLongTimeAgo)
	}
	c.mu.Unlock()
}

// Outcomes of writeOut.
const (
	writeDone     = iota
	writeFailed   // the connection is broken
	writeRequeued // interrupted by the caller's context before a byte went out
)

// writeOut writes b (whole frames) with one Write. A failure breaks the
// connection, except when cl's context interrupted the write before any
// byte of it went out: then b goes back to the head of the queue. When the
// interrupted write had started, the cause is a *StallError (the server
// took no more of it).
func (c *Conn) writeOut(b []byte, cl *call) int {
	n, err := c.nc.Write(b)
	if err == nil {
		return writeDone
	}
	aborted := cl != nil && cl.aborted.Load() && errors.Is(err, os.ErrDeadlineExceeded)
	if aborted && n == 0 {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.err != nil {
			return writeFailed
		}
		q := make([]byte, 0, len(b)+len(c.wq))
		c.wq = append(append(q, b...), c.wq...)
		return writeRequeued
	}
	if aborted {
		se := stallOf(cl, cl.ctx)
		se.Part, se.Done, se.Size = partWrite, n, len(b)
		c.failWrite(se, b, n)
	} else {
		c.failWrite(fmt.Errorf("write: %w", err), b, n)
	}
	c.mu.Lock()
	c.leaveWriterLocked(cl)
	c.mu.Unlock()
	return writeFailed
}

// ctxErr is ctx's error, or context.Canceled when it has none yet.
func ctxErr(ctx context.Context) error {
	if ctx != nil {
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return context.Canceled
}

// callsLocked counts the calls pending and the mux streams open, the
// hello's call not among them.
func (c *Conn) callsLocked() int {
	n := c.pending.len() + len(c.streams)
	if c.hcall != nil && c.pending.get(0) == c.hcall {
		n--
	}
	return n
}
