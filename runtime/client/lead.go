package client

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// Reading is done by the callers themselves, with no reader goroutine: the
// caller holding the reading role (the leader) reads frames, keeps its own
// response and hands the others to their callers; when it is done it passes
// the role to another pending call. A lone caller thus reads its answer in
// its own goroutine, which spares a goroutine hand-off and thread wake-up
// per call. While calls are pending, one of them always holds the role, so
// a broken connection is noticed at once.
//
// A leader whose context ends must stop reading without losing framing: its
// context sets a read deadline in the past, and abortReader gives up the
// read only at a frame boundary (no byte of the next frame consumed yet);
// in the middle of a frame it reads on until the frame is complete.

// aLongTimeAgo is a deadline in the past: it wakes a blocked read at once.
var aLongTimeAgo = time.Unix(1, 0)

// errAborted ends a leader's read when its context ended.
var errAborted = errors.New("client: read aborted")

// abortReader is the connection as the FrameReader sees it.
type abortReader struct{ c *Conn }

func (r abortReader) Read(p []byte) (int, error) {
	c := r.c
	for {
		n, err := c.nc.Read(p)
		if n > 0 {
			c.midFrame = true
			return n, err
		}
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return n, err
		}
		if !c.midFrame && c.abortSeq.Load() == c.leaderSeq {
			return 0, errAborted
		}
		c.nc.SetReadDeadline(time.Time{}) // spurious, or mid-frame: read on
	}
}

// abort is the AfterFunc of a leading call's context.
func (cl *call) abort() {
	cl.conn.abortSeq.Store(cl.seq)
	cl.conn.nc.SetReadDeadline(aLongTimeAgo)
}

// await waits for the response to call cl (seq, registered and written),
// leading the reading when no one else does. The returned result's body
// aliases cl.buf.
func (c *Conn) await(ctx context.Context, cl *call) (result, error) {
	c.mu.Lock()
	// Lead unless someone else reads, or already routed cl's response.
	lead := c.err == nil && !c.reading && c.pending[cl.seq] == cl
	if lead {
		c.reading = true
	}
	c.mu.Unlock()
	for {
		if lead {
			return c.lead(ctx, cl)
		}
		select {
		case r := <-cl.ch:
			if r.promote {
				lead = true
				continue
			}
			return r, r.err
		case <-ctx.Done():
			return c.giveUp(ctx, cl)
		}
	}
}

// giveUp withdraws a waiting call whose context ended. If the reading role
// was just handed to it, it passes the role on.
func (c *Conn) giveUp(ctx context.Context, cl *call) (result, error) {
	c.mu.Lock()
	promoted := cl.promoted
	if !promoted && c.pending[cl.seq] == cl {
		delete(c.pending, cl.seq)
		c.mu.Unlock()
		return result{}, ctx.Err()
	}
	c.mu.Unlock()
	if promoted {
		<-cl.ch // the promotion
		c.mu.Lock()
		delete(c.pending, cl.seq)
		c.mu.Unlock()
		c.passRole()
	} // else a leader took the response: abandon cl, its result lands in cl.ch
	cl.abandoned = true
	return result{}, ctx.Err()
}

// lead reads frames until cl's response arrives, the context ends or the
// connection breaks, then passes the reading role on.
func (c *Conn) lead(ctx context.Context, cl *call) (r result, err error) {
	c.leaderSeq = cl.seq
	if ctx.Done() != nil {
		cl.conn = c
		stop := context.AfterFunc(ctx, cl.abortFn)
		defer func() {
			if !stop() {
				cl.abandoned = true // abort may still run: do not recycle cl
				c.nc.SetReadDeadline(time.Time{})
			}
		}()
	}
	defer c.passRole()
	for {
		var h ipc.Header
		err := errAborted // an abort that came mid-frame takes effect here
		if c.abortSeq.Load() != cl.seq {
			h, err = c.readHeader()
		}
		if errors.Is(err, errAborted) {
			c.nc.SetReadDeadline(time.Time{})
			c.forget(cl.seq, cl)
			return result{}, ctx.Err()
		}
		if err != nil {
			c.fail(err)
			return result{}, c.Err()
		}
		if mine, err := c.route(h, cl); mine || err != nil {
			if err != nil {
				c.fail(err)
				return result{}, c.Err()
			}
			return result{h: h, body: cl.buf[:h.Length]}, nil
		}
	}
}

// readHeader starts a frame; only now may a leader's abort interrupt it.
func (c *Conn) readHeader() (ipc.Header, error) {
	c.midFrame = c.fr.Buffered() > 0
	return c.fr.ReadHeader()
}

// route reads the body of a frame whose header was read: into mine's
// buffer when it answers mine (reported true), to its caller when it
// answers another pending call, else into a scratch buffer, discarded.
func (c *Conn) route(h ipc.Header, mine *call) (bool, error) {
	c.mu.Lock()
	cl := c.pending[h.SeqNo]
	if cl != nil {
		delete(c.pending, h.SeqNo)
	}
	c.mu.Unlock()
	target := cl
	if target == nil {
		target = &c.scratch
	}
	body, err := c.fr.ReadBodyInto(target.buf, h.Length)
	if body != nil {
		target.buf = body
	}
	if err != nil {
		if cl != nil && cl != mine {
			cl.ch <- result{err: &ConnError{Cause: err}}
		}
		return false, err
	}
	switch cl {
	case mine:
		return true, nil
	case nil: // a late answer to a cancelled call, or unsolicited
	default:
		cl.ch <- result{h: h, body: cl.buf[:h.Length]}
	}
	return false, nil
}

// passRole ends a leader's turn: the role goes to a pending call, if any.
func (c *Conn) passRole() {
	c.mu.Lock()
	var next *call
	if c.err == nil {
		for _, cl := range c.pending {
			next = cl
			break
		}
	}
	if next == nil {
		c.reading = false
		c.mu.Unlock()
		return
	}
	next.promoted = true
	c.mu.Unlock()
	next.ch <- result{promote: true}
}
