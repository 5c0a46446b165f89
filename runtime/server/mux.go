package server

import (
	"context"
	"fmt"
)

// Multiplexed streams (docs/wire.md, "Multiplexed streams"): on a
// connection whose hello agreed to the feature "mux", a stream does not
// take the connection over. Its request is dispatched like a unary call's:
// the reader starts the stream's handler goroutine and reads on, so the
// connection's other calls, and other streams, go on beside it. Every frame
// of the stream, its Ready and its StreamEnd carry the request's seq (as on
// any extended connection), and they reach the socket through the
// connection's BatchWriter like every answer, interleaved with them frame
// by frame.
//
// A mux stream holds, until its handler returns and its StreamEnd is
// written, one MaxCallsPerConn slot (the one its request was admitted
// with), one of the server's MaxStreams, and one of the connection's
// MaxStreamsPerConn; a request over either stream budget is answered with
// an error frame ResourceExhausted for its seq, and the connection goes on.
// Its context (a callCtx, made for it when its request came without a
// CallHeader) is registered in conn.inflight by seq, so a Cancel for that
// seq (what the client sends when its stream is closed or its context
// ends) ends it as it ends a unary call's; the handler's next Send then
// fails, and its StreamEnd (code Canceled, or what the handler returned)
// is written and ignored by the client. Close cancels every mux stream,
// which then ends complete as on a dedicated connection.
//
// Flow control (credit.go): a mux stream sends only within the window its
// client grants in StreamCredit frames, which the reader applies as it
// reads them; a Send without credit waits for it, for the stream's end,
// or StreamSendTimeout, which ends that stream alone (ResourceExhausted).
// Below that, a client that does not read the socket at all holds every
// Send back: Send waits while 32 KiB of frames are queued (the
// BatchWriter's backlog, shared by the connection's streams), and the
// connection's write blocked longer than WriteTimeout fails and closes the
// connection. Its own client reads all the time while a stream is open
// (runtime/client's drain).

// startMuxStream is the reader's part of a mux stream: it checks the
// stream budgets, registers the stream and starts its handler goroutine.
func (c *conn) startMuxStream(r *request) {
	m, seq := r.m, r.h.SeqNo
	var refusal error
	c.mu.Lock()
	switch {
	case c.mstreams[seq] != nil:
		refusal = &DecodeError{Method: m.Name, Err: fmt.Errorf("a stream with seq %d is running already", seq)}
	case len(c.mstreams) >= c.s.cfg.maxConnStreams:
		refusal = tooManyConnStreams(c.s.cfg.maxConnStreams)
	}
	c.mu.Unlock()
	if refusal == nil && !c.s.acquireStream() {
		refusal = tooManyStreams(c.s.cfg.maxStreams)
	}
	if refusal != nil {
		if r.call != nil {
			r.call.end()
		}
		c.release(r.drop())
		c.answerError(m, seq, refusal, nil)
		return
	}
	c.mu.Lock()
	if r.call == nil { // a stream without a CallHeader: a Cancel ends it all the same
		r.call = newCallCtx(c, seq, 0, nil)
		if c.inflight == nil {
			c.inflight = make(map[uint64]*callCtx)
		}
		c.inflight[seq] = r.call
	}
	c.mu.Unlock()
	ctx, cancel := context.WithCancel(r.context())
	st := &Stream{c: c, m: m, seq: seq, ctx: ctx, cancel: cancel, credit: newCredit()}
	c.mu.Lock()
	if c.mstreams == nil {
		c.mstreams = make(map[uint64]*Stream)
	}
	c.mstreams[seq] = st
	if c.shutdown {
		cancel()
	}
	c.mu.Unlock()
	c.wg.Add(1)
	go c.serveMuxStream(st, r)
}

// serveMuxStream is a mux stream's handler goroutine: it runs the handler,
// forgets the stream (its budgets are free before its end is written, so
// that a client that opens the next stream on reading the end is not
// refused) and writes its StreamEnd.
func (c *conn) serveMuxStream(st *Stream, r *request) {
	defer c.wg.Done()
	m, seq := r.m, r.h.SeqNo
	err := c.callStream(st, r)
	_, last, failed := st.end() // no Send from here on
	live := st.ctx.Err() == nil
	c.mu.Lock()
	delete(c.mstreams, seq)
	c.mu.Unlock()
	st.cancel()
	r.call.end() // forgets the call: a late Cancel finds nothing
	c.s.releaseStream()
	if c.ctx.Err() == nil && c.bw.Err() == nil { // else the connection is closing
		c.endStream(st, m, seq, err, live, last, failed)
	}
	c.release(r.drop())
}

// tooManyConnStreams answers a stream request over MaxStreamsPerConn.
type tooManyConnStreams int

func (n tooManyConnStreams) Error() string {
	return fmt.Sprintf("server: too many streams on this connection (limit %d); close one or try again later", int(n))
}
