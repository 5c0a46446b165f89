package ipc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/msgpx"
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
// is queued. On a Unix or TCP socket the deadline is armed only when the
// write cannot complete at once: the batch is written without waiting
// until the socket is full, and only then is the deadline armed (once, at
// that moment) for the wait for room and the rest of the batch, in the
// same write: no write is retried before the socket has room. It is left
// armed afterwards, and the next write clears it only if it finds it
// passed; so the usual write, which the socket takes whole, costs no timer
// and no clock read.
//
// A caller that need not wait for its frame (QueueMsg) leaves it to the
// goroutine writing, which reports such frames, a batch at a time, to the
// function set with SetWritten once they are written or have failed.
//
// A goroutine answering several requests in a row (HoldMsg, such as a
// server connection's reader serving what it read in one go) can hold its
// frames back and write them together with Flush: a held frame goes out
// with the next batch anybody writes, or with the Flush, and is reported to
// the SetWritten function like a QueueMsg frame. The holder bounds what it
// holds; the writer does not.
//
// A caller producing small frames back to back (SendMsg, such as a
// stream's sender) need not do the writing: it queues its frame and, when
// no goroutine is writing, starts the flush goroutine, which writes what is
// queued, batch by batch, while the caller goes on encoding the next
// frames, and ends when the queue is empty. There is at most one flush
// goroutine at a time, and it is the goroutine writing.
//
// Large bytes values (RefMarshaler): on a Unix or TCP socket, a frame whose
// caller waits until it is written (WriteMsg; QueueMsg and SendMsg when
// they write it themselves) is encoded with MarshalMsgRefs, which leaves
// each bytes value of msgpx.RefMin bytes or more out of the queue; the
// batch holding it is written with one writev of the queue's pieces and
// those values, so they are never copied. The bytes on the stream are the
// same. A frame whose caller does not wait for it (HoldMsg, QueueMsg while
// another goroutine writes, SendMsg leaving it to the flush goroutine) is
// encoded whole into the queue as before, so no method keeps a reference
// to its message's memory once it returns.
//
// The first write error is sticky: the batch in progress and every later
// call fail with it.
type BatchWriter struct {
	w       io.Writer
	dl      interface{ SetWriteDeadline(time.Time) error }
	timeout atomic.Int64 // time.Duration; <= 0: no deadline
	try     tryWriter    // writes without waiting (a socket's); nil: not possible
	vec     bool         // frames may leave large bytes values out of the queue (refs)

	mu      sync.Mutex
	cond    sync.Cond
	pending []byte      // the frames of batch next, waiting for the writer
	refs    msgpx.Refs  // the bytes values left out of pending, offsets in pending
	wrefs   msgpx.Refs  // the batch being written's (the writer's; empty otherwise)
	bufs    net.Buffers // the pieces of a batch with refs (the writer's)
	wv      net.Buffers // what of bufs net.Buffers.WriteTo has yet to write
	spare   []byte      // a written batch's buffer, reused for the next one
	writing bool        // a goroutine is writing batches
	next    uint64      // the number of the batch pending will become (from 1)
	written uint64      // batches written successfully, in order
	waiters int         // goroutines waiting in cond
	err     error       // sticky write error
	queued  int         // frames in pending whose callers did not wait (QueueMsg)
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
		bw.try = newTryWriter(w)
		bw.vec = bw.try != nil
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
	if err := w.appendLocked(h, m, !w.writing || w.onDone == nil); err != nil {
		w.mu.Unlock()
		return false, err
	}
	if w.writing && w.onDone != nil {
		w.queued++
		w.mu.Unlock()
		return true, nil
	}
	return false, w.commitLocked()
}

// HoldMsg appends m's frame to the queue and returns at once, writing
// nothing: the frame goes out with the next batch, written by whoever
// writes next (a goroutine writing now takes it with its next batch, or
// Flush), and its outcome goes to the SetWritten function, which must be
// set. It returns the bytes queued, the frame included, so that the caller
// can bound them. Encoding errors are WriteMsg's, with nothing queued.
func (w *BatchWriter) HoldMsg(h Header, m msgp.Marshaler) (queued int, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.onDone == nil {
		return 0, errors.New("ipc: HoldMsg without SetWritten")
	}
	if err := w.appendLocked(h, m, false); err != nil {
		return 0, err
	}
	w.queued++
	return len(w.pending), nil
}

// Flush writes the frames queued (held ones: see HoldMsg) when no
// goroutine is writing, and returns the outcome; when one is, it leaves
// them to that goroutine and returns nil at once. It returns the sticky
// write error when there is one.
func (w *BatchWriter) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.writing && len(w.pending) > 0 && w.err == nil {
		w.writeBatchesLocked()
	}
	return w.err
}

// SendMsg queues m's frame (h and m as for WriteMsg, with the same encoding
// errors) and returns without waiting for it to be written: the goroutine
// writing writes it, or, when none is, the flush goroutine SendMsg starts;
// except that with nobody writing, a queue of backlog bytes or more (such
// as one large frame), or a frame that left a large bytes value out of the
// queue (see BatchWriter), is written by SendMsg itself, as WriteMsg does.
// When more than backlog bytes are queued already, SendMsg first waits
// until the writing goroutine takes them, so the queue holds at most
// backlog bytes plus one frame besides the batch being written. A write
// error is reported by the next call (it is sticky) and by Wait.
func (w *BatchWriter) SendMsg(h Header, m msgp.Marshaler, backlog int) error {
	_, err := w.SendMsgLen(h, m, backlog)
	return err
}

// SendMsgLen is SendMsg reporting the payload length of the frame it
// queued (0 when it queued none).
func (w *BatchWriter) SendMsgLen(h Header, m msgp.Marshaler, backlog int) (int, error) {
	w.mu.Lock()
	for w.err == nil && w.writing && len(w.pending) > backlog {
		w.waiters++
		w.cond.Wait()
		w.waiters--
	}
	start, refs := len(w.pending), w.refs.Bytes()
	if err := w.appendLocked(h, m, !w.writing); err != nil {
		w.mu.Unlock()
		return 0, err
	}
	refs = w.refs.Bytes() - refs
	n := len(w.pending) - start - HeaderSize + refs
	if !w.writing {
		if len(w.pending) >= backlog || refs > 0 {
			// Worth a write of its own: no flush goroutine to wake.
			return n, w.commitLocked()
		}
		w.writing = true
		go w.flush()
	}
	w.mu.Unlock()
	return n, nil
}

// flush is the flush goroutine: it writes batches until the queue is empty.
func (w *BatchWriter) flush() {
	w.mu.Lock()
	w.writeBatchesLocked()
	if w.waiters > 0 {
		w.cond.Broadcast() // Wait waits for writing to end
	}
	w.mu.Unlock()
}

// Wait waits until every frame queued is written, or a write failed, and
// returns the sticky write error (nil while the writer is healthy).
func (w *BatchWriter) Wait() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.writing || len(w.pending) > 0 && w.err == nil {
		w.waiters++
		w.cond.Wait()
		w.waiters--
	}
	return w.err
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
	if err := w.appendLocked(h, m, true); err != nil {
		w.mu.Unlock()
		return err
	}
	return w.commitLocked()
}

// appendLocked appends m's frame to the queue, with w.mu held; after an
// error (the sticky one, or m's encoding's) nothing is appended. With
// refs (the caller waits until the frame is written) a RefMarshaler may
// leave its large bytes values out of the queue, in w.refs.
func (w *BatchWriter) appendLocked(h Header, m msgp.Marshaler, refs bool) error {
	if w.err != nil {
		return w.err
	}
	var out []byte
	var err error
	if rm, ok := m.(RefMarshaler); ok && refs && w.vec {
		out, err = appendMsgRefsSafe(w.pending, h, rm, &w.refs)
	} else {
		out, err = appendMsgSafe(w.pending, h, m)
	}
	if err != nil {
		return err
	}
	w.pending = out
	return nil
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

// RefMarshaler is a message that can encode itself leaving its large
// bytes values out of the buffer: MarshalMsgRefs(b, r) is MarshalMsg(b)
// except that each bytes value of msgpx.RefMin bytes or more is recorded in
// r (after its bin header, which is appended) instead of copied, so that
// msgpx.Splice(nil, out, r) equals MarshalMsg's encoding; with r nil it
// encodes as MarshalMsg. mgmtgen generates it for every struct that holds
// bytes.
type RefMarshaler interface {
	msgp.Marshaler
	MarshalMsgRefs(b []byte, r *msgpx.Refs) ([]byte, error)
}

// appendMsgRefsSafe is appendMsgSafe encoding with m.MarshalMsgRefs into
// dst and r: the frame's length counts the values r records. After an
// error (a panic included) dst and r are as they were.
func appendMsgRefsSafe(dst []byte, h Header, m RefMarshaler, r *msgpx.Refs) (out []byte, err error) {
	start, mark := len(dst), r.Len()
	defer func() {
		if v := recover(); v != nil {
			r.Truncate(mark)
			out, err = dst[:start], fmt.Errorf("%w: message %s: %v", ErrEncodePanic, h.MsgType, v)
		}
	}()
	h.Length = 0
	out, err = m.MarshalMsgRefs(AppendHeader(dst, h), r)
	if err != nil {
		r.Truncate(mark)
		return dst[:start], err
	}
	n := len(out) - start - HeaderSize + r.BytesFrom(mark)
	if uint64(n) > uint64(MaxPayloadSize) {
		r.Truncate(mark)
		return dst[:start], fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, n, MaxPayloadSize)
	}
	binary.BigEndian.PutUint32(out[start+offLength:], uint32(n))
	return out, nil
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
		w.refs, w.wrefs = w.wrefs, w.refs // w.wrefs was empty
		w.next++
		w.mu.Unlock()
		err := w.write(batch)
		w.wrefs.Reset() // the values are the callers' again once they learn the outcome
		w.mu.Lock()
		if err != nil {
			w.err = err
			w.pending = w.pending[:0]
			w.refs.Reset()
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

// write is one Write of a batch, with its own deadline (see Deadlines in
// the type's doc): armed at once, or, on a socket, only when the socket
// does not take the batch without waiting (then from that moment: no clock
// is read unless the write must wait).
func (w *BatchWriter) write(b []byte) error {
	d := time.Duration(w.timeout.Load())
	if w.wrefs.Len() > 0 {
		return w.writev(b, d)
	}
	switch {
	case d <= 0 || w.dl == nil:
		_, err := w.w.Write(b)
		return err
	case w.try != nil:
		return w.try.writeArmed(b, d)
	}
	if err := w.dl.SetWriteDeadline(time.Now().Add(d)); err != nil {
		return err
	}
	_, err := w.w.Write(b)
	return err
}

// writev is write for a batch b with refs (w.wrefs), on a socket: one
// writev of b's pieces and the values between them.
func (w *BatchWriter) writev(b []byte, d time.Duration) error {
	bufs, at := w.bufs[:0], 0
	for i := range w.wrefs.Len() {
		ref := w.wrefs.At(i)
		bufs = append(bufs, b[at:ref.Off], ref.B)
		at = ref.Off
	}
	w.bufs = append(bufs, b[at:])
	var err error
	if d <= 0 {
		v := w.bufs // WriteTo consumes v, a field's copy so as not to allocate one
		w.wv = v
		_, err = w.wv.WriteTo(w.w)
		w.wv = nil
	} else {
		err = w.try.writevArmed(w.bufs, d)
	}
	clear(w.bufs) // no reference to the batch or the values
	w.bufs = w.bufs[:0]
	return err
}
