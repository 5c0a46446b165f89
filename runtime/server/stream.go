package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/status"
)

// ErrStreamEnded is returned by Send after the last frame was sent or the
// handler returned.
var ErrStreamEnded = errors.New("server: stream already ended")

// Stream is the server side of one streaming call. Generated typed senders
// (server.Sender, behind e.g. mgmt.LogsSender) wrap it. It is safe for
// concurrent use.
type Stream struct {
	c      *conn
	m      *method
	seq    uint64 // the request's seq, for an error answer
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	sent    int   // frames queued or written
	last    bool  // the last frame was written
	ready   bool  // Ready was called or a frame sent
	err     error // sticky failure
	refused error // a frame over the schema's limits ended the stream (extended: told in its end)

	credit *credit // a mux stream's window (credit.go); nil: not flow controlled
}

// Ready says the stream is live: on an extended connection the client's
// typed stream call returns once it arrives, so that an event after that
// is delivered. Call it once the handler's subscription is in place; the
// first Send implies it, later calls do nothing. On a legacy connection it
// sends nothing.
func (s *Stream) Ready() error {
	if err := s.ours("Ready"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.openLocked(); err != nil || s.ready {
		return err
	}
	s.ready = true
	if !s.c.ext {
		return nil
	}
	if err := s.c.bw.SendMsg(ipc.Header{MsgType: ipc.MsgReady, SeqNo: s.seq}, nil, streamBacklog); err != nil {
		s.err = fmt.Errorf("server: stream ready: %w", err)
		s.c.drop()
		return s.err
	}
	return nil
}

// Send encodes m as one frame of type t. last marks the schema's last frame
// (e.g. Logs with EOF true): after it the stream is over, further sends fail,
// and the connection returns to request/response mode (once every frame
// is written). Send queues the frame and returns while the connection's
// flush goroutine writes it (see conn.go), so frames sent back to back
// share writes; it waits while 32 KiB of frames are queued. Send keeps no
// reference to m: once it returns, m's frame is written or encoded into
// the connection's queue, and m and its buffers are the handler's again.
// Send fails once
// the client has gone away, the server is shutting down, or an earlier
// frame's write failed, and blocks at most about the server's
// StreamSendTimeout for a slow reader; a send that fails that way ends the
// stream and drops the connection. A frame that cannot be encoded is not
// sent and the stream goes on. Stream frames carry seq 0, as cliwrap's do,
// on a legacy connection; their call's seq on an extended one. A mux
// stream's Send first waits for the client's credit (credit.go): at most
// StreamSendTimeout, after which it fails with ResourceExhausted and ends
// that stream alone (its StreamEnd says why; the connection goes on).
func (s *Stream) Send(t ipc.MsgType, m msgp.Marshaler, last bool) error {
	if err := s.ours("Send"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.openLocked(); err != nil {
		return err
	}
	if err := s.ctx.Err(); err != nil {
		return fmt.Errorf("server: stream ended: %w", err)
	}
	h := ipc.Header{MsgType: t}
	if s.c.ext {
		h.SeqNo = s.seq
	}
	if s.credit != nil {
		if err := s.credit.await(s.ctx, s.c.s.cfg.streamSendTimeout, s.m.Name); err != nil {
			if s.ctx.Err() == nil { // the client stopped reading: only this stream ends
				s.err, s.refused = err, err
				s.cancel()
			}
			return err
		}
	}
	n, err := s.c.bw.SendMsgLen(h, m, streamBacklog)
	if err != nil {
		if errors.Is(err, ipc.ErrEncodePanic) || errors.Is(err, ipc.ErrFrameTooLarge) {
			return fmt.Errorf("server: stream send: %w", err)
		}
		s.err = fmt.Errorf("server: stream send: %w", err)
		s.c.drop()
		return s.err
	}
	if s.credit != nil {
		s.credit.take(n)
	}
	s.sent++
	s.last = last
	s.ready = true
	return nil
}

// ours refuses a Stream the server did not make (a zero or nil one), for
// op.
func (s *Stream) ours(op string) error {
	if s == nil || s.c == nil {
		return errors.New("server: " + op + " on a Stream the server did not create")
	}
	return nil
}

// openLocked reports why s takes no more frames: an earlier failure, or
// its last frame went out; nil while it is open. s.mu is held.
func (s *Stream) openLocked() error {
	switch {
	case s.err != nil:
		return s.err
	case s.last:
		return ErrStreamEnded
	}
	return nil
}

// streamBacklog is how many bytes of a stream's frames Send queues for the
// flush goroutine before it waits: enough to fill a write with small
// frames, and with the batch being written two batch buffers at most
// (ipc's keepBatchSize, 128 KiB, for frames up to 64 KiB).
const streamBacklog = 32 << 10

// refuse answers a frame over the schema's limits: instead of the frame the
// client gets the error response naming the field and limit, and the stream
// is over (its connection closes when the handler returns).
func (s *Stream) refuse(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.openLocked(); err != nil {
		return err
	}
	s.err = err
	if s.c.ext {
		s.refused = err // the stream's end says it
	} else {
		s.c.answerError(s.m, s.seq, err, nil)
	}
	s.cancel()
	return err
}

// end stops further sends and reports what was sent.
func (s *Stream) end() (sent int, last bool, failed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	failed = s.err != nil
	if s.err == nil {
		s.err = ErrStreamEnded
	}
	return s.sent, s.last, failed
}

// runStream is the reader's part of a stream: it waits for the unary calls
// before it to be answered, starts the stream's handler goroutine and, until
// the stream ends, reads no request, only noticing a peer that goes away.
// It reports whether the connection returns to request/response mode.
func (c *conn) runStream(r *request) bool {
	if !c.waitCalls(1) { // its own slot is one of them
		c.release(r.drop())
		return false
	}
	if !c.s.acquireStream() {
		m, seq := r.m, r.h.SeqNo
		c.release(r.drop())
		c.answerError(m, seq, tooManyStreams(c.s.cfg.maxStreams), nil)
		return true
	}
	defer c.s.releaseStream()
	ctx, cancel := context.WithCancel(r.context())
	defer cancel()
	if r.call != nil {
		defer r.call.end()
	}
	st := &Stream{c: c, m: r.m, seq: r.h.SeqNo, ctx: ctx, cancel: cancel}
	c.mu.Lock()
	c.stream = st
	if c.shutdown {
		cancel()
	}
	c.mu.Unlock()
	c.bw.SetTimeout(c.s.cfg.streamSendTimeout)
	done := make(chan bool, 1)
	c.wg.Add(1)
	go c.serveStream(st, r, done)

	// The peer may send nothing (the stream is the rest of the
	// connection), hang up (cancel the stream), or send requests to be
	// served after the stream's last frame: those stay unread until the
	// stream ends, at most the read buffer's 4 KiB taken in; past that the
	// reader only watches for a hang-up.
	gone := c.peerGone()
	if gone {
		cancel()
	}
	keep := <-done
	c.mu.Lock()
	c.stream = nil
	c.mu.Unlock()
	c.streamOver.Store(false)
	if gone || !keep {
		return false
	}
	c.bw.SetTimeout(c.s.cfg.writeTimeout)
	c.startIdle()
	return true
}

// peerGone waits, during a stream, until the stream ends (false) or the
// peer hangs up (true), reading at most the read buffer's worth.
func (c *conn) peerGone() bool {
	err := c.fr.Fill()
	switch {
	case errors.Is(err, errStreamOver):
		return false
	case err != nil:
		return true
	}
	for { // the buffer is full
		hung, err := awaitHangup(c.nc)
		switch {
		case hung:
			return true
		case c.stop.Load():
			return true
		case c.streamOver.Load(), errors.Is(err, errNoHangup):
			return false
		case errors.Is(err, os.ErrDeadlineExceeded) && !c.idleExpired():
			continue // the idle deadline, moved on: the stream is busy
		}
		return err != nil
	}
}

// errNoHangup: the platform cannot watch for a hang-up without reading.
var errNoHangup = errors.New("server: hang-up not observable")

// waitCalls waits until at most n calls hold a slot; false: the connection
// is ending.
func (c *conn) waitCalls(n int) bool {
	c.flushHeld() // the answers held keep their slots
	for {
		c.mu.Lock()
		calls, closed := c.calls, c.closed
		c.waiting = !closed && calls > n
		c.mu.Unlock()
		switch {
		case closed:
			return false
		case calls <= n:
			return true
		}
		select {
		case <-c.freed:
		case <-c.ctx.Done():
			return false
		}
	}
}

// serveStream is a stream's handler goroutine. It reports on done whether
// the stream ended with its last frame, the connection going back to
// request/response mode, and wakes the reader.
func (c *conn) serveStream(st *Stream, r *request, done chan<- bool) {
	defer c.wg.Done()
	keep := c.streamResult(st, r)
	c.release(r.drop())
	c.streamOver.Store(true)
	c.nc.SetReadDeadline(aLongTimeAgo) // wakes the reader's wait
	done <- keep
}

func (c *conn) streamResult(st *Stream, r *request) bool {
	m, seq := r.m, r.h.SeqNo
	stop := context.AfterFunc(st.ctx, func() { c.nc.SetWriteDeadline(aLongTimeAgo) })
	err := c.callStream(st, r)
	sent, last, failed := st.end() // no Send from here on
	werr := c.bw.Wait()            // the frames Send queued are out, or failed
	live := stop()
	if werr != nil {
		failed = true
		c.drop()
	}
	if c.ext {
		return c.endStream(st, m, seq, err, live, last, failed)
	}
	switch {
	case failed || !live:
		return false
	case last:
		if err != nil {
			c.s.log.Debug("server: stream handler error after last frame", "protocol", c.s.table.Protocol, "method", m.Name, "err", err)
		}
		return true
	case sent == 0 && err != nil:
		var de *DecodeError
		return c.answerError(m, seq, err, nil) && errors.As(err, &de)
	}
	if err != nil {
		c.s.log.Debug("server: stream handler error", "protocol", c.s.table.Protocol, "method", m.Name, "err", err)
	}
	return false
}

func (c *conn) callStream(st *Stream, r *request) (err error) {
	defer func() {
		if v := recover(); v != nil {
			r.decoded()
			err = c.s.recovered(r.m, v)
		}
	}()
	return r.m.stream(st.ctx, r, st)
}

// endStream ends a stream on an extended connection with its StreamEnd:
// code 0 when the handler returned nil or after the last frame, else the
// handler's error with its code (a frame over the schema's limits:
// Internal). A stream the server's shutdown ends is complete when
// its handler returned nil or its context's error (it only noticed the
// shutdown), as a follow that runs until either side closes is. It reports
// whether the connection goes back to request/response mode: yes, unless
// a send failed, the client went away or the server is shutting down. A
// mux stream (mux.go) the client cancelled ends with its handler's error,
// as any other.
func (c *conn) endStream(st *Stream, m *method, seq uint64, err error, live, last, failed bool) bool {
	if st.refused != nil { // refuse cancelled the stream's context itself
		err, failed, live = st.refused, false, true
	}
	if failed {
		return false // a send failed: the connection is dropped
	}
	c.mu.Lock()
	shutdown := c.shutdown
	c.mu.Unlock()
	if !live && !shutdown && !c.mux {
		return false // the client went away (on a mux connection: cancelled the stream)
	}
	if !live && shutdown && errors.Is(err, context.Canceled) {
		err = nil // the shutdown ended it: see above
	}
	end := &ipc.Status{}
	switch {
	case err != nil && last:
		c.s.log.Debug("server: stream handler error after last frame", "protocol", c.s.table.Protocol, "method", m.Name, "err", err)
	case err != nil:
		end = errorFrame(m.Name, err)
		if end.Code == uint32(status.OK) {
			end.Code = uint32(status.Unknown)
		}
	}
	return c.write(ipc.MsgStreamEnd, seq, end, nil) == nil && live
}
