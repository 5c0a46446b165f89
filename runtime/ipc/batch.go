package ipc

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tinylib/msgp/msgp"
)

// BatchWriter owns the write side of a byte stream: frames from any number
// of goroutines go through it, and frames that become ready while a write is
// in progress are coalesced into the next single Write. Each frame is
// appended whole, so frames never interleave or split between writers, and
// the bytes on the wire are exactly the frames in the order they were
// queued.
//
// Who writes: at most one goroutine is inside the underlying Write at any
// time, the caller that found the writer idle. It writes its own frame, then,
// one Write per batch, every frame queued meanwhile, until the queue is
// empty. A caller that finds a write in progress encodes its frame into the
// queue and waits until the batch holding it has been written. Every method
// returns only once its frame is on the stream (or has failed), so the bytes
// queued are bounded by the frames of the goroutines waiting in it.
//
// Deadlines: when the stream has a SetWriteDeadline method (a net.Conn) and
// a timeout is set, each Write is given a deadline of the timeout from its
// start, armed once and never moved by later frames: a peer that stops
// reading fails the blocked write one timeout after it began, whatever else
// is queued.
//
// A caller that need not wait for its frame (QueueMsg) leaves it to the
// goroutine writing, which reports such frames, a batch at a time, to the
// function set with SetWritten once they are written or have failed.
//
// The first write error is sticky: the batch in progress and every later
// call fail with it.
type BatchWriter struct {
	w       io.Writer
	dl      interface{ SetWriteDeadline(time.Time) error }
	timeout atomic.Int64 // time.Duration; <= 0: no deadline

	mu      sync.Mutex
	cond    sync.Cond
	pending []byte // the frames of batch next, waiting for the writer
	spare   []byte // a written batch's buffer, reused for the next one
	writing bool   // a goroutine is writing batches
	next    uint64 // the number of the batch pending will become (from 1)
	written uint64 // batches written successfully, in order
	waiters int    // goroutines waiting in cond
	err     error  // sticky write error
	queued  int    // frames in pending whose callers did not wait (QueueMsg)
	onDone  func(frames int, err error)
}

// keepBatchSize is the largest batch buffer a BatchWriter keeps for the
// next batch: a stream of 64 KiB chunks reuses one, while a connection that
// once sent a huge answer does not keep its memory. A BatchWriter holds at
// most two such buffers between writes.
const keepBatchSize = 128 << 10

// NewBatchWriter returns a BatchWriter on w.
func NewBatchWriter(w io.Writer) *BatchWriter {
	bw := &BatchWriter{w: w, next: 1}
	bw.cond.L = &bw.mu
	if dl, ok := w.(interface{ SetWriteDeadline(time.Time) error }); ok {
		bw.dl = dl
	}
	return bw
}

// SetTimeout sets the deadline given to each Write from now on: d after
// the Write begins (d <= 0: none). It has no effect when the stream has no
// SetWriteDeadline method. It is safe to call at any time; a Write already
// in progress keeps the deadline it started with.
func (w *BatchWriter) SetTimeout(d time.Duration) { w.timeout.Store(int64(d)) }

// SetWritten sets the function told about frames queued with QueueMsg:
// after each batch holding some, f(frames, err) with the batch's outcome
// (err nil: they are on the stream). It is called without the writer's
// lock, by the goroutine writing, which may be any caller. Set it before
// the first QueueMsg.
func (w *BatchWriter) SetWritten(f func(frames int, err error)) {
	w.mu.Lock()
	w.onDone = f
	w.mu.Unlock()
}

// QueueMsg is WriteMsg for a caller that need not wait while another
// goroutine writes: then m's frame is queued for that goroutine's next
// batch and QueueMsg returns at once with queued true; the frame's outcome
// goes to the SetWritten function. When nobody is writing, QueueMsg writes
// like WriteMsg and returns its outcome (queued false). Encoding errors are
// WriteMsg's, with nothing queued.
func (w *BatchWriter) QueueMsg(h Header, m msgp.Marshaler) (queued bool, err error) {
	w.mu.Lock()
	if w.err != nil {
		defer w.mu.Unlock()
		return false, w.err
	}
	out, err := appendMsgSafe(w.pending, h, m)
	if err != nil {
		w.mu.Unlock()
		return false, err
	}
	w.pending = out
	if w.writing && w.onDone != nil {
		w.queued++
		w.mu.Unlock()
		return true, nil
	}
	return false, w.commitLocked()
}

// ErrEncodePanic wraps the value a panicking MarshalMsg raised (such as a
// nil pointer inside a message); nothing of that frame is written.
var ErrEncodePanic = errors.New("ipc: encoding panicked")

// WriteMsg writes one frame carrying m's encoding (m nil: an empty payload),
// encoded straight into the queue; h.Length is set from the encoding. A
// payload over MaxPayloadSize fails with ErrFrameTooLarge and a panicking
// MarshalMsg with ErrEncodePanic; nothing is written in either case and the
// writer stays usable.
func (w *BatchWriter) WriteMsg(h Header, m msgp.Marshaler) error {
	w.mu.Lock()
	if w.err != nil {
		defer w.mu.Unlock()
		return w.err
	}
	out, err := appendMsgSafe(w.pending, h, m)
	if err != nil {
		w.mu.Unlock()
		return err
	}
	w.pending = out
	return w.commitLocked()
}

// appendMsgSafe is AppendMsgFrame turning a panic in MarshalMsg into an
// error, with dst's contents left as they were.
func appendMsgSafe(dst []byte, h Header, m msgp.Marshaler) (out []byte, err error) {
	start := len(dst)
	defer func() {
		if v := recover(); v != nil {
			out, err = dst[:start], fmt.Errorf("%w: message %s: %v", ErrEncodePanic, h.MsgType, v)
		}
	}()
	return AppendMsgFrame(dst, h, m)
}

// WriteFrame writes one frame. h.Length must equal len(payload)
// (ErrLengthMismatch otherwise) and payloads over MaxPayloadSize fail with
// ErrFrameTooLarge; nothing is written in either case.
func (w *BatchWriter) WriteFrame(h Header, payload []byte) error {
	if uint64(h.Length) != uint64(len(payload)) {
		return ErrLengthMismatch
	}
	if uint64(len(payload)) > uint64(MaxPayloadSize) {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, len(payload), MaxPayloadSize)
	}
	w.mu.Lock()
	if w.err != nil {
		defer w.mu.Unlock()
		return w.err
	}
	w.pending = AppendHeader(w.pending, h)
	w.pending = append(w.pending, payload...)
	return w.commitLocked()
}

// WriteRaw writes frames, one or more whole frames built with AppendFrame
// or AppendMsgFrame, as one unit. It does not check them.
func (w *BatchWriter) WriteRaw(frames []byte) error {
	w.mu.Lock()
	if w.err != nil {
		defer w.mu.Unlock()
		return w.err
	}
	w.pending = append(w.pending, frames...)
	return w.commitLocked()
}

// Err returns the sticky write error, nil while the writer is healthy.
func (w *BatchWriter) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// commitLocked is called with w.mu held and the caller's frame at the end of
// w.pending, which becomes batch w.next. It either waits for the goroutine
// writing to write that batch or becomes that goroutine, and returns the
// batch's outcome. It unlocks w.mu.
func (w *BatchWriter) commitLocked() error {
	mine := w.next
	if !w.writing {
		w.writeBatchesLocked()
	}
	for w.written < mine && w.err == nil {
		w.waiters++
		w.cond.Wait()
		w.waiters--
	}
	var err error
	if w.written < mine {
		err = w.err
	}
	w.mu.Unlock()
	return err
}

// writeBatchesLocked writes pending batches until none is left or a write
// fails; w.mu is held on entry and exit, released during each Write.
func (w *BatchWriter) writeBatchesLocked() {
	w.writing = true
	for len(w.pending) > 0 && w.err == nil {
		batch, queued := w.pending, w.queued
		w.pending, w.spare, w.queued = w.spare[:0], nil, 0
		w.next++
		w.mu.Unlock()
		err := w.write(batch)
		w.mu.Lock()
		if err != nil {
			w.err = err
			w.pending = w.pending[:0]
			queued += w.queued // dropped with the rest of the queue
			w.queued = 0
		} else {
			w.written++
		}
		if cap(batch) <= keepBatchSize {
			w.spare = batch[:0]
		}
		if w.waiters > 0 {
			w.cond.Broadcast()
		}
		if queued > 0 {
			done := w.onDone
			w.mu.Unlock()
			done(queued, err)
			w.mu.Lock()
		}
	}
	w.writing = false
}

// write is one Write of a batch, with its own deadline.
func (w *BatchWriter) write(b []byte) error {
	if d := time.Duration(w.timeout.Load()); d > 0 && w.dl != nil {
		if err := w.dl.SetWriteDeadline(time.Now().Add(d)); err != nil {
			return err
		}
	}
	_, err := w.w.Write(b)
	return err
}
