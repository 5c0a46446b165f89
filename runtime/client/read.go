package client

import (
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// The reading role (see the package doc). Its holder is the only goroutine
// that reads c.br and touches c.cur and c.leader; the role changes hands
// under c.mu (c.reading) or over a call's channel (a promotion), both of
// which order the old holder's work before the new one's.
//
// Interrupting a holder: a call whose context ends sets its aborted flag and
// a read deadline in the past (poke). The holder's reads go through
// abortReader, which, once the holder or the owner of the frame being read
// has given up, only takes what the socket already holds, without waiting,
// and then reports errAborted; stop decides what that means.

// aLongTimeAgo is a deadline in the past: it wakes a blocked read or write.
var aLongTimeAgo = time.Unix(1, 0)

// errAborted ends a read whose holder or frame owner gave up.
var errAborted = errors.New("client: read aborted")

// growStep is the body size up to which the declared length is allocated
// at once (with growSlack more: a 64 KiB chunk of output with its frame's
// other fields gets one exact buffer, which RecvInto can lend, lend.go);
// past it the body grows as its bytes arrive.
const (
	growStep  = 64 << 10
	growSlack = 4 << 10
)

// frameState is the frame being read. It lives in the Conn, not on a
// reader's stack, so that a reader that stops in the middle of a frame
// leaves it for the next one.
type frameState struct {
	hdr    [ipc.HeaderSize]byte
	got    int  // header bytes read
	parsed bool // h is valid
	h      ipc.Header
	to     *call  // the call the frame answers; nil: discarded
	direct bool   // to is a mux stream's Recv reading it (else: for its queue)
	body   []byte // to's buffer, read up to off
	off    int    // body bytes read or discarded
}

// abortReader is the socket as c.br sees it.
type abortReader struct{ c *Conn }

func (r abortReader) Read(p []byte) (int, error) {
	c := r.c
	for {
		if c.stopping() {
			return c.readNow(p)
		}
		n, err := c.nc.Read(p)
		if n > 0 || err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return n, err
		}
		// A poke: clear the deadline first, then look at the flags, so
		// that a poke racing with this is seen one way or the other.
		c.nc.SetReadDeadline(time.Time{})
	}
}

// stopping reports whether the holder gave up, or the owner of the body
// in progress, or, in the middle of a header, any call.
func (c *Conn) stopping() bool {
	f := &c.cur
	switch {
	case c.leader != nil && c.leader.aborted.Load():
		return true
	case f.to != nil && f.to.ms == nil: // a stream's frame is finished by anyone
		return f.to.aborted.Load()
	}
	return !f.parsed && f.got > 0 && c.quit.Load() != nil
}

// readNow reads what the socket holds without waiting: errAborted when it
// holds nothing.
func (c *Conn) readNow(p []byte) (int, error) {
	if c.raw == nil {
		return 0, errAborted
	}
	for {
		c.nc.SetReadDeadline(time.Time{})
		n, err := rawRead(c.raw, p)
		if !errors.Is(err, os.ErrDeadlineExceeded) { // else poked again meanwhile
			return n, err
		}
	}
}

// poke wakes the reading role's holder if it is blocked in a read.
func (c *Conn) poke() { c.nc.SetReadDeadline(aLongTimeAgo) }

// abort is the AfterFunc of a holder's context.
func (cl *call) abort() {
	cl.aborted.Store(true)
	cl.conn.poke()
}

// await waits for the answer to cl (registered and sent), taking the
// reading role when no one holds it, and returns its header; its body is
// cl.buf.
func (c *Conn) await(ctx context.Context, cl *call) (ipc.Header, error) {
	lead := cl.lead // the writing role's end took the reading role for cl
	if lead {
		cl.lead = false
	} else {
		c.mu.Lock()
		lead = c.takeRoleLocked(cl)
		c.mu.Unlock()
	}
	if lead {
		h, _, _, err := c.turn(ctx, cl)
		return h, err
	}
	select {
	case r := <-cl.ch:
		if r.promote {
			h, _, _, err := c.turn(ctx, cl)
			return h, err
		}
		return r.h, r.err
	case <-ctx.Done():
		r, err := c.giveUp(ctx, cl)
		return r.h, err
	}
}

// takeRoleLocked takes the reading role for cl, registered and sent, when
// nobody holds it; c.mu is held.
func (c *Conn) takeRoleLocked(cl *call) bool {
	if c.err != nil || c.reading || c.pending.get(cl.seq) != cl {
		return false
	}
	c.reading = true
	return true
}

// giveUp ends the wait of a call whose context ended. Unseen by the reader,
// it withdraws. Otherwise its answer is being read (or the role is on its
// way to it): it marks itself aborted, wakes the reader, which finishes the
// frame with what the socket holds or poisons the connection, and takes
// what comes.
func (c *Conn) giveUp(ctx context.Context, cl *call) (result, error) {
	c.mu.Lock()
	promoted := cl.promoted
	if !promoted && c.pending.get(cl.seq) == cl {
		c.pending.del(cl.seq)
		c.freeLocked()
		reading := c.reading
		c.mu.Unlock()
		if reading { // a header stalled now may be cl's answer: have it checked
			c.quit.Store(stallOf(cl, ctx))
			c.poke()
		}
		if cl.hdrLen > 0 && ctx.Err() == context.Canceled {
			c.cancelRemote(cl.seq) // the handler's context ends too (a deadline ends it there by itself)
		}
		return result{}, ctx.Err()
	}
	c.mu.Unlock()
	cl.aborted.Store(true)
	if !promoted {
		c.poke()
	}
	r := <-cl.ch
	if r.promote {
		return c.lead(ctx, cl)
	}
	return r, r.err
}

// lead holds the reading role for me: it reads frames until me's answer is
// complete, the connection breaks, or a context ends (stop).
func (c *Conn) lead(ctx context.Context, me *call) (result, error) {
	h, body, end, err := c.turn(ctx, me)
	switch end {
	case turnAnswered:
		return result{h: h, body: body}, err
	case turnQueued:
		return result{queued: true}, err
	}
	return result{}, err
}

// How a turn as reader ended (turn), besides an error.
const (
	turnOver     = iota // nothing for the holder (or an error)
	turnAnswered        // the holder's answer was read
	turnQueued          // (a mux stream's Recv) its frame went to its queue
)

// turn is lead returning the answer's header and body (in registers,
// where lead's result is copied through memory): await's, for unary
// calls. The body is also me.buf, which a mux stream's Recv must not read
// once the role is passed on (another holder claims its next frame).
func (c *Conn) turn(ctx context.Context, me *call) (ipc.Header, []byte, int, error) {
	c.leader = me
	switch canEnd := ctx.Done() != nil; {
	case canEnd && me.ms != nil:
		// A mux stream's Recv: the stream's own AfterFunc, registered
		// once, aborts it while it leads (mux.go), so a turn costs no
		// AfterFunc of its own. A context that ended before leading was
		// set is seen here.
		me.conn = c
		me.leading.Store(true)
		defer me.leading.Store(false)
		if ctx.Err() != nil {
			me.abort()
		}
	case canEnd:
		me.conn = c
		stop := context.AfterFunc(ctx, me.abortFn)
		defer func() {
			if !stop() {
				me.abandoned = true // abort may still run: never recycle me
			}
		}()
	}
	for {
		if me == c.dcall && (c.drainOver() || c.readerWaits()) {
			c.leader = nil
			c.passRole(me)
			return ipc.Header{}, nil, turnOver, nil
		}
		err := c.readFrame()
		if err == nil {
			f := &c.cur
			to, h, body, direct := f.to, f.h, f.body, f.direct
			*f = frameState{}
			switch {
			case to == nil: // a late answer to a call that gave up, or unsolicited
			case to == c.hcall:
				c.helloAnswered(h, body)
				if me.forHello {
					c.leader = nil
					c.passRole(me)
					return ipc.Header{}, nil, turnOver, nil
				}
			case to.ms != nil && !direct: // for a mux stream's queue
				c.deliver(to.ms, h, body)
				if to == me {
					c.leader = nil
					c.passRole(me)
					return ipc.Header{}, nil, turnQueued, nil
				}
			case to == me:
				me.buf = body
				c.leader = nil
				c.passRole(me)
				return h, body, turnAnswered, nil
			default:
				to.buf = body
				to.ch <- result{h: h, body: body}
			}
			continue
		}
		c.leader = nil
		if errors.Is(err, errAborted) {
			if me == c.dcall && me.aborted.CompareAndSwap(true, false) {
				c.leader = me // woken to look whether it is done
				continue
			}
			_, err := c.stop(ctx, me)
			return ipc.Header{}, nil, turnOver, err
		}
		c.fail(err)
		c.dropFrame(me)
		return ipc.Header{}, nil, turnOver, c.Err()
	}
}

// stop ends a holder's turn after errAborted, which came with nothing more
// of the frame in progress at hand. A stalled header, or the body of an
// answer whose call gave up, poisons the connection. Otherwise the
// holder's own context ended: it withdraws and passes the role on, with a
// partly read body to the call it answers, or poisons the connection when
// no call is left to finish the frame.
func (c *Conn) stop(ctx context.Context, me *call) (result, error) {
	f := &c.cur
	if me.ms != nil && me.aborted.Load() {
		// A mux stream's Recv whose context ended: a frame of its own in
		// progress is left to be discarded, and the role to the drain
		// goroutine if nobody waits (passRole), which finishes any frame.
		if f.to == me {
			f.to, f.body = nil, nil
		}
		c.passRole(me)
		return result{}, ctx.Err()
	}
	switch {
	case f.parsed && f.to != nil && f.to.ms == nil && f.to.aborted.Load():
		return c.poison(me, stallOf(f.to, f.to.ctx))
	case !f.parsed && f.got > 0:
		if q := c.quit.Load(); !me.aborted.Load() && q != nil {
			cp := *q // q stays shared
			return c.poison(me, &cp)
		}
		return c.poison(me, stallOf(me, ctx))
	}
	c.mu.Lock()
	withdrew := c.pending.get(me.seq) == me && !me.forHello
	if withdrew {
		c.pending.del(me.seq)
		c.freeLocked()
	}
	c.mu.Unlock()
	if !c.passRole(me) {
		return c.poison(me, stallOf(me, ctx))
	}
	if withdrew && me.hdrLen > 0 && ctx.Err() == context.Canceled {
		c.cancelRemote(me.seq) // the handler's context ends too (a deadline ends it there by itself)
	}
	return result{}, ctx.Err()
}

// poison breaks the connection because the context of the call se names
// ended in the middle of the frame in progress, which se is completed
// with; me, the holder, returns the connection's error.
func (c *Conn) poison(me *call, se *StallError) (result, error) {
	f := &c.cur
	se.Part, se.Done, se.Size = partHeader, f.got, ipc.HeaderSize
	if f.parsed {
		se.Part, se.Done, se.Size = partBody, f.off, int(f.h.Length)
	}
	c.fail(se)
	c.dropFrame(me)
	return result{}, c.Err()
}

// dropFrame tells the owner of the frame in progress, if another call,
// that the connection broke, and forgets the frame.
func (c *Conn) dropFrame(me *call) {
	if to := c.cur.to; to != nil && to != me && to != &c.sframe {
		to.ch <- result{err: c.Err()}
	}
	c.cur, c.unclaimed = frameState{}, nil
}

// passRole ends me's turn: the role goes to the call whose answer is partly
// read, else to any pending call. With nobody to take it, the role is
// dropped, unless a frame is partly read: then the holder keeps it (nobody
// else may resume that frame) and passRole reports false.
func (c *Conn) passRole(me *call) bool {
	c.mu.Lock()
	if cl := c.unclaimed; cl != nil { // its answer was read (readFrame)
		c.unclaimed = nil
		if c.pending.get(cl.seq) == cl {
			c.pending.del(cl.seq)
			c.freeLocked()
		}
	}
	var next *call
	if c.err == nil {
		if f := &c.cur; f.parsed && f.to != nil && f.to != me && f.to != c.hcall && (f.to.ms == nil || f.to.ms.waiting) {
			next = f.to
		} else {
			// The hello's call never reads. The streams are looked at
			// only while a Recv waits: ranging over a map costs about
			// 100 instructions even when it is empty.
			next = c.pending.other(c.hcall)
			if next == nil && c.nwaiting > 0 {
				for _, s := range c.streams {
					if next != nil {
						break
					}
					if s.waiting && s.rcall != me {
						next = s.rcall
					}
				}
			}
		}
	}
	if next == nil && c.err == nil && c.cur.got > 0 && c.muxed {
		// A frame is half read and nobody waits: the drain goroutine
		// finishes it and reads on (mux.go).
		c.mu.Unlock()
		go c.drain()
		return true
	}
	if next == nil && c.err == nil && len(c.streams) > 0 {
		// Streams are open and nobody waits: the role is dropped, so a
		// stream's Recv that comes back soon reads its frame itself, into
		// its own buffer; the drain goroutine takes the role drainDelay
		// later if nobody has (mux.go).
		c.reading = false
		c.freeLocked()
		c.armDrainLocked()
		c.mu.Unlock()
		return true
	}
	if next == nil {
		mid := c.cur.got > 0 && c.err == nil
		if !mid {
			c.reading = false
			c.freeLocked() // a waitHello may take the role now
		}
		c.mu.Unlock()
		return !mid
	}
	next.promoted = true
	c.mu.Unlock()
	next.ch <- result{promote: true}
	return true
}

// readFrame reads the frame in progress (c.cur) to its end. The call it
// answers is claimed (no longer pending) as soon as its header is read,
// except the holder's own, which passRole takes out of the pending set.
func (c *Conn) readFrame() error {
	f := &c.cur
	for f.got < ipc.HeaderSize {
		n, err := c.br.Read(f.hdr[f.got:])
		if f.got == 0 && n > 0 && c.quit.Load() != nil {
			c.quit.Store(nil) // calls that gave up before this frame began
		}
		f.got += n
		if err != nil {
			if f.got == 0 && err == io.EOF {
				return io.EOF
			}
			return unexpectedEOF(err)
		}
	}
	if !f.parsed {
		h, err := ipc.ParseHeader(f.hdr[:], c.opts.MaxPayload)
		if err != nil {
			return err
		}
		f.h, f.parsed = h, true
		if me := c.leader; me != nil && h.SeqNo == me.seq && me.ms == nil && !me.forHello && me.seq != 0 && !c.broken.Load() {
			// The holder's own answer (a unary call's: registered, and
			// still pending while it holds the role): it stays in the
			// pending set until passRole takes it out, under the lock
			// that one takes anyway.
			f.to, c.unclaimed = me, me
		} else {
			f.to, f.direct = c.claim(h)
		}
		if f.to != nil {
			f.body = f.to.buf[:0]
		}
	}
	size := int(f.h.Length)
	for f.off < size {
		var n int
		var err error
		if f.to == nil {
			n, err = c.br.Discard(size - f.off)
		} else {
			switch {
			case f.off < len(f.body):
			case cap(f.body) >= size: // growBody's first case, inline
				f.body = f.body[:size]
			default:
				f.body = growBody(f.body, size)
			}
			n, err = c.br.Read(f.body[f.off:])
		}
		f.off += n
		if err != nil {
			return unexpectedEOF(err)
		}
	}
	if f.to != nil {
		f.body = f.body[:size]
	}
	return nil
}

// claim takes the call answered by a frame with header h out of the
// pending set, or gives a mux stream's frame to its stream (direct: to
// its Recv, which reads; see mux.go); on a stream's connection every frame
// is the stream's.
func (c *Conn) claim(h ipc.Header) (cl *call, direct bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.streaming {
		return &c.sframe, false
	}
	cl = c.pending.get(h.SeqNo)
	if cl != nil {
		c.pending.del(h.SeqNo)
		c.freeLocked()
		return cl, false
	}
	if s := c.streams[h.SeqNo]; s != nil {
		return c.claimStreamLocked(s, h)
	}
	return nil, false
}

// growBody extends b, holding the first len(b) bytes of a body of size
// bytes: to size at once when b has the capacity or size is small, else by
// a chunk that at most doubles it, so a server that declares 16 MiB and
// stalls costs 68 KiB.
func growBody(b []byte, size int) []byte {
	if cap(b) >= size {
		return b[:size]
	}
	if size <= growStep+growSlack {
		nb := make([]byte, size)
		copy(nb, b)
		return nb
	}
	chunk := min(size-len(b), max(growStep, len(b)))
	b = slices.Grow(b, chunk)
	return b[:len(b)+chunk]
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
