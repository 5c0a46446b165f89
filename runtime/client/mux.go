package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/status"
)

// Multiplexed streams (docs/wire.md, "Multiplexed streams"), client side.
// On a connection whose hello agreed to the feature "mux", OpenStream sends
// the stream's request on the Conn itself, numbered like a call (with the
// call's CallHeader when its context can end or carries metadata), instead
// of dialling a connection for it; the server tags every frame of the
// stream, its Ready and its end (StreamEnd, or an error frame) with that
// seq. The stream is registered in Conn.streams by seq until its end
// arrives or it is closed.
//
// Who reads a stream's frames: whoever holds the reading role (read.go).
// Its holder takes a frame whose seq is a stream's straight to the stream
// when the holder is that stream's own Recv (and nothing is queued before
// the frame); any other holder appends it to the stream's queue, and the
// stream's Recv takes it from there. A Recv that finds its queue empty
// takes the reading role when nobody holds it, as a call waiting for its
// answer does, and else waits for a frame in its queue or for the role,
// which passRole hands to a Recv waiting like this as it hands it to a
// waiting call. While a stream is open and no call or Recv waits, the
// role is dropped and, drainDelay (10 ms) later if nobody took it
// meanwhile, the drain goroutine takes it (at once when a frame is half
// read), so frames keep being read (and the server's writes never stall
// on us for longer than that) however slowly the stream's reader reads:
// it ends once no stream is open and no frame is in progress, or when the
// connection breaks. The delay is what lets a Recv that keeps up read its
// frames itself, into its own buffer, with no hand-off.
//
// Flow control (docs/wire.md, "Flow control"): the stream's request goes
// with its first StreamCredit, in the same write: Options.StreamQueueFrames
// frames and StreamQueueBytes bytes, its whole queue. Its Recv counts the
// frames it takes (not Ready or the end) and, once half of either is
// taken, sends a StreamCredit giving them back (consumed), so the server
// never has more outstanding than the queue holds: itself when nobody
// writes and the socket takes the few bytes at once, else behind the
// writer (as a Cancel is: the flush goroutine writes it when nobody
// writes). Half, not less: each credit wakes the server's reader, which
// costs a 64 KiB stream about as much as a copy of its frames.
//
// Bounds: a frame is queued while the stream's queue holds fewer than
// Options.StreamQueueFrames frames and Options.StreamQueueBytes body bytes
// (so at most those plus one frame, what a server that honours the window
// can have outstanding; a stream's end is always taken). A frame that
// comes past that (a server ignoring credit) ends that stream alone: its queue is dropped, its
// Recv returns a ResourceExhausted error ("stream reader fell behind: N
// frames / B bytes queued"), a Cancel goes to the server for its seq, and
// the rest of its frames are discarded as they arrive; every other call
// and stream goes on. Closing a stream, or the end of OpenStream's
// context, does the same with Close's or the context's error, and sends a
// Cancel unless the stream's last frame came (the server then ends it by
// itself: its end is discarded when it comes). An open stream counts as a
// call in MaxPendingCalls.

// Defaults of Options' stream queue bounds.
const (
	DefaultStreamQueueFrames = 256     // Options.StreamQueueFrames
	DefaultStreamQueueBytes  = 1 << 20 // Options.StreamQueueBytes
)

// unlimitedStreamBytes is the byte window a stream whose reader reads the
// socket itself (Conn.Stream on a mux connection) grants, with 2^32-1
// frames: the server's bound of a stream's credit (2^40 bytes).
const unlimitedStreamBytes = 1 << 40

// queuedFrame is a frame in a stream's queue; body is its own.
type queuedFrame struct {
	h    ipc.Header
	body []byte
}

// errStreamClosed is Recv's error after Close, on a mux stream.
var errStreamClosed = errors.New("stream closed by the client")

// openMux opens a stream on c itself; c negotiated "mux".
func (c *Conn) openMux(ctx context.Context, info *CallInfo, req msgp.Marshaler) (*Stream, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("client: %s stream: %w", info.Method, err)
	}
	hdr, withHdr, err := c.envelope(ctx)
	if err != nil {
		return nil, fmt.Errorf("client: %s stream: %w", info.Method, err)
	}
	bp, frame, hdrLen, err := encodeCall(info.Request, &hdr, withHdr, req)
	if err != nil {
		return nil, fmt.Errorf("client: %s stream: %w", info.Method, err)
	}
	sctx, cancel := context.WithCancel(ctx)
	s := &Stream{c: c, info: *info, ctx: sctx, mux: true, cancel: cancel, wake: make(chan struct{}, 1)}
	// The stream's whole window, in the request's write (send gives it the seq).
	s.creditAt = len(frame)
	frame = ipc.AppendStreamCredit(frame, 0, uint32(c.opts.StreamQueueFrames), uint64(c.opts.StreamQueueBytes))
	rc := &call{ch: make(chan result, 2), ms: s, name: info.Method, ctx: sctx, start: time.Now(), hdrLen: hdrLen, abandoned: true}
	rc.abortFn, rc.writeAbortFn = rc.abort, rc.writeAbort
	s.rcall = rc
	err = c.send(ctx, frame, rc)
	recycle(bp, frame)
	if err != nil { // not registered: nothing was written
		cancel()
		return nil, callErr(ctx, info.Method+" stream", err)
	}
	rc.aborted.Store(false) // a write its context interrupted is over
	s.stop = context.AfterFunc(sctx, func() {
		s.muxEnded(nil)
		s.wakeRecv()
	})
	if err := s.awaitReady(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// wakeRecv wakes the stream's Recv if it holds the reading role (lead),
// once its context has ended: lead sets leading before it looks at the
// context, so one of the two sees the other.
func (s *Stream) wakeRecv() {
	if s.rcall.leading.Load() {
		s.rcall.abort()
	}
}

// muxNext returns the stream's next frame: from its queue, or read by the
// caller holding the reading role, or queued by whoever holds it. A frame
// of the stream's own (not Ready or its end) is consumed: its window is
// granted back (consumed).
func (s *Stream) muxNext() (ipc.Header, []byte, error) {
	h, body, err := s.muxFrame()
	if err == nil && !ipc.IsReserved(h.MsgType) {
		s.consumed(len(body))
	}
	return h, body, err
}

// consumed counts a frame of n body bytes taken by the stream's reader and
// grants the window it held back to the server once half of the window
// (frames or bytes) is consumed, in one StreamCredit.
func (s *Stream) consumed(n int) {
	c := s.c
	s.ungFrames++
	s.ungBytes += n
	if s.ungFrames < max(c.opts.StreamQueueFrames/2, 1) && s.ungBytes < max(c.opts.StreamQueueBytes/2, 1) {
		return
	}
	frames, bytes := s.ungFrames, s.ungBytes
	s.ungFrames, s.ungBytes = 0, 0
	var f [ipc.HeaderSize + 16]byte
	credit := ipc.AppendStreamCredit(f[:0], s.seq, uint32(frames), uint64(bytes))
	c.mu.Lock()
	if c.streams[s.seq] != s || s.over != nil || c.err != nil {
		c.mu.Unlock()
		return
	}
	if c.wbusy || c.raw == nil {
		c.queueControlLocked(credit)
		c.mu.Unlock()
		return
	}
	// Nobody writes: the credit goes out from here, when the socket takes
	// it at once (it nearly always has room for a few bytes), with no
	// flush goroutine to start and wake.
	c.wbusy = true
	c.mu.Unlock()
	took := rawWrite(c.raw, credit)
	c.mu.Lock()
	if took < len(credit) { // the rest, ahead of anything queued meanwhile, for the flush goroutine
		c.wq = append(append(make([]byte, 0, len(credit)-took+len(c.wq)), credit[took:]...), c.wq...)
	}
	if len(c.wq) > 0 {
		c.mu.Unlock()
		go c.flush()
		return
	}
	c.wbusy = false
	c.freeLocked()
	c.mu.Unlock()
}

// muxFrame is muxNext's search for the next frame.
func (s *Stream) muxFrame() (ipc.Header, []byte, error) {
	c, rc := s.c, s.rcall
	hold := false // the reading role was passed to us: lead, or pass it on
	for {
		c.mu.Lock()
		var err error
		if len(s.q) == 0 {
			if err = s.overErrLocked(); err == nil {
				err = c.err
			}
		}
		if len(s.q) > 0 || err != nil {
			var f queuedFrame
			if err == nil {
				f = s.q[0]
				s.q[0] = queuedFrame{}
				s.q = s.q[1:]
				s.qbytes -= len(f.body)
			}
			c.mu.Unlock()
			if hold {
				c.passRole(rc)
			}
			return f.h, f.body, err
		}
		rc.promoted = false
		if hold || !c.reading {
			c.reading, hold = true, false
			c.mu.Unlock()
			if r, ok, err := s.lead(); ok || err != nil {
				return r.h, r.body, err
			}
			continue
		}
		s.waiting = true
		c.nwaiting++
		c.mu.Unlock()
		if c.draining.Load() {
			// The drain goroutine reads: woken, it hands us the role at
			// the end of the frame in progress (readerWaits), so that we
			// read our frames ourselves again.
			c.dcall.aborted.Store(true)
			c.poke()
		}
		var (
			r     result
			woken bool
		)
		select {
		case <-s.wake:
		case r = <-rc.ch:
			woken = true
		case <-s.ctx.Done():
		}
		c.mu.Lock()
		s.waiting = false
		c.nwaiting--
		promoted := rc.promoted && !woken
		c.mu.Unlock()
		if promoted { // the role is on its way
			r, woken = <-rc.ch, true
		}
		switch {
		case !woken:
		case r.err != nil:
			return ipc.Header{}, nil, r.err
		case r.promote:
			hold = true // a frame may be queued meanwhile: look first
		}
	}
}

// lead holds the reading role for the stream's Recv: ok with the stream's
// next frame, read straight to it; not ok when a frame went to its queue
// (or its context ended) instead.
func (s *Stream) lead() (result, bool, error) {
	r, err := s.c.lead(s.ctx, s.rcall)
	switch {
	case err != nil:
		if s.ctx.Err() != nil {
			return result{}, false, nil // the loop says why
		}
		return result{}, false, err
	case r.queued:
		return result{}, false, nil
	}
	if cap(r.body) <= keepStreamBuf {
		s.buf = r.body[:0]
	}
	return r, true, nil
}

// overErrLocked is the error that ended the stream on the client's side,
// nil while it goes on; c.mu is held.
func (s *Stream) overErrLocked() error {
	if s.over != nil {
		return s.over
	}
	if err := s.ctx.Err(); err != nil {
		return fmt.Errorf("client: %s stream: %w", s.info.Method, err)
	}
	return nil
}

// claimStreamLocked takes a frame (header h) of the stream s for reading:
// straight to its Recv when that is the reader and nothing is queued
// (direct), else into its queue when it fits; a frame that does not fit
// ends the stream (see above) and is discarded (nil). c.mu is held.
func (c *Conn) claimStreamLocked(s *Stream, h ipc.Header) (cl *call, direct bool) {
	end := h.MsgType == ipc.MsgStreamEnd || h.MsgType == ipc.MsgError
	if end {
		delete(c.streams, h.SeqNo) // nothing follows it
	}
	switch {
	case s.over != nil: // closed, or fell behind: the rest is discarded
		return nil, false
	case c.leader == s.rcall && len(s.q) == 0:
		s.rcall.buf = s.buf
		return s.rcall, true
	case !end && len(s.q) > 0 && (len(s.q) >= c.opts.StreamQueueFrames || s.qbytes >= c.opts.StreamQueueBytes):
		s.over = status.Errorf(status.ResourceExhausted, "client: %s stream: stream reader fell behind: %d frames / %d bytes queued",
			s.info.Method, len(s.q), s.qbytes)
		s.q, s.qbytes = nil, 0
		delete(c.streams, h.SeqNo)
		c.cancelLocked(h.SeqNo)
		signal(s.wake)
		return nil, false
	}
	s.qbytes += int(h.Length)
	s.rcall.buf = nil // a queued frame's body is its own
	return s.rcall, false
}

// deliver appends a frame the reader read for the stream s to its queue.
func (c *Conn) deliver(s *Stream, h ipc.Header, body []byte) {
	c.mu.Lock()
	if s.over == nil {
		s.q = append(s.q, queuedFrame{h: h, body: body})
	}
	c.mu.Unlock()
	signal(s.wake)
}

// muxEnded ends the stream on the client's side (Close, cause
// errStreamClosed, or the end of its context, cause nil): its queue is
// dropped, and the server is sent a Cancel unless its end came already
// or, after its last frame (closeLast), will come by itself.
func (s *Stream) muxEnded(cause error) {
	c := s.c
	c.mu.Lock()
	if s.over == nil {
		if cause == nil {
			cause = ctxErr(s.ctx)
		}
		s.over = fmt.Errorf("client: %s stream: %w", s.info.Method, cause)
	}
	s.q, s.qbytes = nil, 0
	open := c.streams[s.seq] == s
	if open && !s.lastSeen {
		delete(c.streams, s.seq)
		c.cancelLocked(s.seq)
	}
	idle := len(c.streams) == 0
	c.mu.Unlock()
	signal(s.wake)
	if idle && c.draining.Load() {
		c.dcall.aborted.Store(true) // nothing to drain: wake it to end
		c.poke()
	}
}

// drainDelay is how long the reading role may stay unheld while mux
// streams are open before the drain goroutine takes it: a stream's Recv
// that comes back for its next frame within it reads the frame itself,
// into its own buffer, where the drain goroutine would queue it in fresh
// memory. A server's write waits that long at most for us to read (its
// WriteTimeout is seconds), and only while no call or Recv waits: those
// read for themselves. Not less: while a stream is followed, the drain
// timer is re-armed about once per drainDelay, and each time wakes a
// thread of the runtime; at 1 ms that cost a 64 KiB follow about 13 % of
// its throughput on a 2-core VM.
const drainDelay = 10 * time.Millisecond

// armDrainLocked starts the drain goroutine drainDelay from now, unless
// someone holds the reading role by then; c.mu is held. It runs each time
// a stream's Recv lets the role go, so it reads no clock (time.Now costs
// a 64 KiB follow's frame about 80 ns on the Intel host of session 8): the
// timer is armed when it is not pending already, else the drop is only
// noted (droppedAgain), and a timer that fires after such a drop re-arms
// for a whole drainDelay (drainIfUnread). So the drain goroutine takes the
// role between drainDelay and twice that after the last drop, and the
// timer is reset at most about once per drainDelay however many frames a
// followed stream reads.
func (c *Conn) armDrainLocked() {
	if c.drainArmed {
		c.droppedAgain = true
		return
	}
	c.drainArmed, c.droppedAgain = true, false
	if c.drainTimer == nil {
		c.drainTimer = time.AfterFunc(c.drainDelay, c.drainIfUnread)
		return
	}
	c.drainTimer.Reset(c.drainDelay)
}

// drainIfUnread is the drain timer's function: it becomes the drain
// goroutine when mux streams are open and nobody has held the reading
// role since it was armed or last re-armed.
func (c *Conn) drainIfUnread() {
	c.mu.Lock()
	if c.reading || c.err != nil || len(c.streams) == 0 {
		c.drainArmed = false // the next drop arms it again
		c.mu.Unlock()
		return
	}
	if c.droppedAgain { // dropped again since it was armed: wait a whole drainDelay more
		c.droppedAgain = false
		c.drainTimer.Reset(c.drainDelay)
		c.mu.Unlock()
		return
	}
	c.drainArmed = false
	c.reading = true
	c.mu.Unlock()
	c.drain()
}

// drain is the drain goroutine: it holds the reading role while streams
// are open and nobody else waits to read (see above).
func (c *Conn) drain() {
	c.draining.Store(true)
	defer c.draining.Store(false)
	c.dcall.aborted.Store(false)
	c.lead(context.Background(), c.dcall)
}

// drainOver reports whether the drain goroutine is done: no stream is
// open and no frame is half read, or the connection broke.
func (c *Conn) drainOver() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err != nil || len(c.streams) == 0 && c.cur.got == 0
}

// readerWaits reports, to the drain goroutine between frames, whether a
// call or a mux stream's Recv waits to read: then the drain goroutine
// passes the role to it (passRole) and ends, so that a Recv that was away
// longer than drainDelay once (the drain took the role meanwhile) reads
// its frames itself again, into its own buffer, instead of having every
// later frame queued in fresh memory and handed over for the rest of the
// stream. A Recv that starts waiting while the drain goroutine reads
// wakes it (poke), so the hand-off does not wait for the next frame.
func (c *Conn) readerWaits() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil || c.cur.got > 0 {
		return false
	}
	if c.pending.other(c.hcall) != nil {
		return true
	}
	return c.nwaiting > 0
}

// cancelLocked queues a Cancel for seq behind the writer (cancelRemote
// with c.mu held).
func (c *Conn) cancelLocked(seq uint64) {
	if c.err != nil {
		return
	}
	var f [ipc.HeaderSize]byte
	c.queueControlLocked(ipc.AppendHeader(f[:0], ipc.Header{MsgType: ipc.MsgCancel, SeqNo: seq}))
}

// queueControlLocked queues a control frame behind the writer, starting
// the flush goroutine when nobody writes; c.mu is held.
func (c *Conn) queueControlLocked(frame []byte) {
	c.wq = append(c.wq, frame...)
	if !c.wbusy {
		c.wbusy = true
		go c.flush()
	}
}

// signal wakes a goroutine waiting on ch (capacity 1), if any.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
