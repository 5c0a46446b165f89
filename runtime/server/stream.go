package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// ErrStreamEnded is returned by Send after the last frame was sent or the
// handler returned.
var ErrStreamEnded = errors.New("server: stream already ended")

// Stream is the server side of one streaming call. Generated typed senders
// (e.g. mgmt.LogsSender) wrap it. It is safe for concurrent use.
type Stream struct {
	c       *conn
	ctx     context.Context
	timeout time.Duration

	mu   sync.Mutex
	buf  []byte // frame buffer kept across sends (up to keepStreamBuf)
	sent int    // frames written
	last bool   // the last frame was written
	err  error  // sticky failure
}

// keepStreamBuf is the largest frame buffer a stream keeps between sends: a
// stream of 64 KiB log chunks reuses one buffer instead of allocating per
// frame, and one huge frame does not pin its memory.
const keepStreamBuf = 1 << 20

// Send encodes m as one frame of type t. last marks the schema's last frame
// (e.g. Logs with EOF true): after it the stream is over, further sends fail,
// and the connection returns to request/response mode. Send fails once the
// client has gone away or the server is shutting down, and blocks at most the
// server's stream send timeout for a slow reader; a send that fails that way
// ends the stream and drops the connection. Stream frames carry seq 0, as
// cliwrap's do.
func (s *Stream) Send(t ipc.MsgType, m msgp.Marshaler, last bool) error {
	if s == nil || s.c == nil {
		return errors.New("server: Send on a Stream the server did not create")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.err != nil:
		return s.err
	case s.last:
		return ErrStreamEnded
	}
	if err := s.ctx.Err(); err != nil {
		return fmt.Errorf("server: stream ended: %w", err)
	}
	frame, err := ipc.AppendMsgFrame(s.buf[:0], ipc.Header{MsgType: t}, m)
	if err != nil {
		return fmt.Errorf("server: stream send: %w", err)
	}
	s.c.setWriteDeadline(time.Now().Add(s.timeout))
	_, err = s.c.fw.WriteRaw(frame)
	if cap(frame) <= keepStreamBuf {
		s.buf = frame[:0]
	} else {
		s.buf = nil
	}
	if err != nil {
		s.err = fmt.Errorf("server: stream send: %w", err)
		s.c.drop()
		return s.err
	}
	s.sent++
	s.last = last
	return nil
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

// runStream serves a stream request, then, if the stream ended with its
// last frame, the requests queued meanwhile, in order (starting the next
// stream in this goroutine). A stream that did not end with its last frame
// closes the connection.
func (c *conn) runStream(r request, m *method) {
	defer c.wg.Done()
	for m != nil {
		if !c.serveStream(r, m) {
			c.drop()
			return
		}
		r, m = c.drain()
	}
}

// serveStream runs one stream handler once in-flight unary calls are done.
// It reports whether the connection goes back to request/response mode.
func (c *conn) serveStream(r request, m *method) bool {
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	c.mu.Lock()
	c.streamCancel = cancel
	if c.s.shutdown.Load() {
		cancel()
	}
	var wait chan struct{}
	if c.inflight > 0 {
		wait = make(chan struct{})
		c.waitIdle = wait
	}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.streamCancel = nil
		c.mu.Unlock()
	}()
	if wait != nil {
		select {
		case <-wait:
		case <-ctx.Done():
		}
	}
	if ctx.Err() != nil {
		putBuf(r.buf)
		return false
	}
	st := &Stream{c: c, ctx: ctx, timeout: c.s.opts.StreamSendTimeout}
	stop := context.AfterFunc(ctx, func() { c.setWriteDeadline(aLongTimeAgo) })
	err := c.callStream(ctx, m, r.body(), st)
	putBuf(r.buf)
	live := stop()
	sent, last, failed := st.end()
	switch {
	case failed || !live:
		return false
	case last:
		if err != nil {
			c.s.log.Debug("server: stream handler error after last frame", "protocol", c.s.table.Protocol, "method", m.Name, "err", err)
		}
		c.setWriteDeadline(time.Time{})
		return true
	case sent == 0 && err != nil:
		var de *DecodeError
		return c.answerError(m, r.h.SeqNo, err) && errors.As(err, &de)
	}
	if err != nil {
		c.s.log.Debug("server: stream handler error", "protocol", c.s.table.Protocol, "method", m.Name, "err", err)
	}
	return false
}

func (c *conn) callStream(ctx context.Context, m *method, body []byte, st *Stream) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = c.s.recovered(m, v)
		}
	}()
	return m.Stream(ctx, c.s.impl, body, st, m.stream)
}

// drain dispatches the requests queued during a stream, in order, until the
// queue is empty (the connection is then released to the reader) or a
// stream request comes up, which it returns with its method.
func (c *conn) drain() (request, *method) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return request{}, nil
		}
		if len(c.queue) == 0 {
			c.held = false
			c.queue = nil
			c.becameIdleLocked()
			return request{}, nil
		}
		r := c.queue[0]
		c.queue[0] = request{}
		c.queue = c.queue[1:]
		if m := c.s.methods[r.h.MsgType]; m != nil && m.Stream != nil {
			c.mu.Unlock()
			return r, m
		}
		if c.s.shutdown.Load() {
			c.mu.Unlock()
			putBuf(r.buf)
			continue
		}
		c.inflight++
		c.mu.Unlock()
		c.dispatch(r)
	}
}
