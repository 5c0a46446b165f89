package server

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

const (
	// maxWorkers bounds the unary calls one connection runs at once; the
	// connection's reader waits for a free worker beyond it.
	maxWorkers = 128
	// maxQueued bounds the requests a connection holds while a stream is
	// active; a client sending more is dropped.
	maxQueued = 64
)

// aLongTimeAgo is a deadline in the past: it wakes blocked I/O at once.
var aLongTimeAgo = time.Unix(1, 0)

// request is one received request frame. buf holds the payload (nil when
// empty) and goes back to the pool once the request is decoded.
type request struct {
	h   ipc.Header
	buf *[]byte
}

func (r request) body() []byte {
	if r.buf == nil {
		return nil
	}
	return (*r.buf)[:r.h.Length]
}

// conn is one server connection. One goroutine (serve) reads frames; unary
// requests are handed to a small set of reused worker goroutines, a stream
// runs in a goroutine of its own while the reader keeps reading, queueing
// requests and watching for the client going away.
type conn struct {
	s          *Server
	nc         net.Conn
	fr         *ipc.FrameReader
	fw         *ipc.FrameWriter
	ctx        context.Context // cancelled when the connection ends
	cancel     context.CancelFunc
	work       chan request   // hand-off to idle workers
	wg         sync.WaitGroup // workers, streams and inline calls
	turn       atomic.Uint64  // odd while the reader serves a request inline
	handoff    *time.Timer    // moves the reading role off a slow inline call
	wdl        atomic.Int64   // unary write deadline in force (Unix ns); 0: none or unknown
	watched    atomic.Bool    // the hand-off timer is armed
	watchGen   atomic.Uint64  // the inline call the timer last saw
	lastActive atomic.Int64   // Unix ns of the last request or call end

	mu           sync.Mutex
	inflight     int       // unary calls dispatched, response not yet written
	workers      int       // worker goroutines started
	held         bool      // a stream is active or queued requests are draining
	queue        []request // requests received while held
	closed       bool      // no further dispatch
	streamCancel context.CancelFunc
	waitIdle     chan struct{} // closed when inflight drops to 0
}

func newConn(s *Server, nc net.Conn) *conn {
	base := context.Background()
	if p, ok := peerCred(nc); ok {
		base = context.WithValue(base, peerKey{}, p)
	}
	ctx, cancel := context.WithCancel(base)
	c := &conn{
		s:      s,
		nc:     nc,
		fw:     ipc.NewFrameWriter(nc),
		ctx:    ctx,
		cancel: cancel,
		work:   make(chan request),
	}
	c.fr = ipc.NewFrameReaderSize(idleReader{c}, s.opts.MaxPayload, connReadBuffer)
	c.handoff = time.AfterFunc(time.Hour, c.watch)
	c.handoff.Stop()
	return c
}

// serve runs a new connection: authorisation, then the reading role.
func (c *conn) serve() {
	if !c.authorize() {
		c.finish()
		return
	}
	c.startIdle()
	c.readLoop()
}

// readLoop holds the connection's reading role: it reads requests until the
// connection ends (it then finishes it) or until it hands the role to
// another goroutine while serving a slow request inline.
func (c *conn) readLoop() {
	for {
		r, err := c.readRequest()
		if err != nil {
			c.readFailed(err)
			c.finish()
			return
		}
		c.touch()
		switch c.enqueue(r) {
		case actStop:
			c.finish()
			return
		case actInline:
			if !c.serveInline(r) {
				return
			}
		}
	}
}

// finish ends the connection: once its last reader stops, every handler
// has returned and it is forgotten by the server.
func (c *conn) finish() {
	c.teardown()
	c.wg.Wait()
	c.s.forget(c)
}

func (c *conn) authorize() bool {
	auth := c.s.opts.Authorize
	if auth == nil {
		return true
	}
	peer, ok := PeerFromContext(c.ctx)
	if !ok {
		c.s.log.Warn("server: connection refused: peer credentials unavailable", "protocol", c.s.table.Protocol)
		return false
	}
	if err := auth(c.ctx, peer); err != nil {
		c.s.log.Warn("server: connection refused by Authorize", "protocol", c.s.table.Protocol,
			"uid", peer.UID, "gid", peer.GID, "pid", peer.PID, "err", err)
		return false
	}
	return true
}

// connReadBuffer is a connection's read buffer: requests are small, and an
// idle connection should cost little (larger bodies bypass the buffer).
const connReadBuffer = 4 << 10

func (c *conn) readRequest() (request, error) {
	h, err := c.fr.ReadHeader()
	if err != nil {
		return request{}, err
	}
	r := request{h: h}
	if h.Length > 0 {
		r.buf = getBuf(0)
		body, err := c.fr.ReadBodyInto(*r.buf, h.Length)
		if err != nil {
			putBuf(r.buf)
			return request{}, err
		}
		*r.buf = body
	}
	return r, nil
}

func (c *conn) readFailed(err error) {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		c.s.log.Debug("server: closing idle connection", "protocol", c.s.table.Protocol)
	case errors.Is(err, ipc.ErrInvalidMagic), errors.Is(err, ipc.ErrUnsupportedVersion), errors.Is(err, ipc.ErrFrameTooLarge):
		c.s.log.Warn("server: framing error; closing connection", "protocol", c.s.table.Protocol, "err", err)
	default:
		c.s.log.Debug("server: connection read failed", "protocol", c.s.table.Protocol, "err", err)
	}
}

// teardown ends the connection once its reader stops.
func (c *conn) teardown() {
	c.mu.Lock()
	c.closed = true
	q := c.queue
	c.queue = nil
	c.mu.Unlock()
	for _, r := range q {
		putBuf(r.buf)
	}
	c.handoff.Stop()
	c.nc.Close() // first: handlers that see ctx end cannot answer any more
	c.cancel()
}

// What the reader does after enqueue.
type action int

const (
	actContinue action = iota // read on
	actStop                   // end the connection
	actInline                 // serve the request in the reader goroutine
)

// enqueue dispatches r, queues it while a stream holds the connection, or
// tells the reader to serve it inline: a unary request with nothing else
// received behind it.
func (c *conn) enqueue(r request) action {
	c.mu.Lock()
	if c.closed || c.s.shutdown.Load() {
		busy := !c.closed && (c.inflight > 0 || c.held)
		c.mu.Unlock()
		putBuf(r.buf)
		if busy {
			return actContinue
		}
		return actStop
	}
	if c.held {
		if len(c.queue) >= maxQueued {
			c.mu.Unlock()
			putBuf(r.buf)
			c.s.log.Warn("server: too many requests during a stream; closing connection", "protocol", c.s.table.Protocol)
			return actStop
		}
		c.queue = append(c.queue, r)
		c.mu.Unlock()
		return actContinue
	}
	if m := c.s.methods[r.h.MsgType]; m != nil && m.Stream != nil {
		c.held = true
		c.mu.Unlock()
		c.wg.Add(1)
		go c.runStream(r, m)
		return actContinue
	}
	c.inflight++
	c.mu.Unlock()
	if c.fr.Buffered() == 0 {
		return actInline
	}
	c.dispatch(r)
	return actContinue
}

// dispatch hands a unary request (inflight already counted) to an idle
// worker, starts a worker, or waits for one when maxWorkers are busy.
func (c *conn) dispatch(r request) {
	select {
	case c.work <- r:
		return
	default:
	}
	c.mu.Lock()
	spawn := c.workers < maxWorkers
	if spawn {
		c.workers++
	}
	c.mu.Unlock()
	if spawn {
		c.wg.Add(1)
		go c.worker(r)
		return
	}
	select {
	case c.work <- r:
	case <-c.ctx.Done():
		putBuf(r.buf)
		c.callDone()
	}
}

// worker serves unary requests until the connection ends.
func (c *conn) worker(r request) {
	defer c.wg.Done()
	for {
		c.serveUnary(r)
		select {
		case r = <-c.work:
		case <-c.ctx.Done():
			return
		}
	}
}

// callDone accounts for a finished unary call. A connection left with
// nothing to do is closed during shutdown, else its idle timer starts.
func (c *conn) callDone() {
	c.mu.Lock()
	c.inflight--
	if c.inflight > 0 {
		c.mu.Unlock()
		return
	}
	if c.waitIdle != nil {
		close(c.waitIdle)
		c.waitIdle = nil
	}
	c.becameIdleLocked()
}

// becameIdleLocked is called, with c.mu held, when the connection may have
// nothing in flight; it unlocks c.mu.
func (c *conn) becameIdleLocked() {
	if c.inflight > 0 || c.held || c.closed {
		c.mu.Unlock()
		return
	}
	if c.s.shutdown.Load() {
		c.closed = true
		c.mu.Unlock()
		c.nc.Close()
		return
	}
	c.mu.Unlock()
	c.touch()
}

// touch restarts the idle clock: the connection received a request or
// finished its last call.
func (c *conn) touch() {
	if c.s.opts.IdleTimeout > 0 {
		c.lastActive.Store(time.Now().UnixNano())
	}
}

// startIdle sets the first idle deadline. Later ones are set only when one
// expires (see idleReader), so the hot path touches no timer.
func (c *conn) startIdle() {
	if t := c.s.opts.IdleTimeout; t > 0 {
		now := time.Now()
		c.lastActive.Store(now.UnixNano())
		c.nc.SetReadDeadline(now.Add(t))
	}
}

// idleExpired is called when the read deadline passes. It moves the
// deadline and reports false while the connection is busy (calls in flight,
// a stream) or has not been idle for IdleTimeout; true means close it.
func (c *conn) idleExpired() bool {
	t := c.s.opts.IdleTimeout
	if t <= 0 {
		return true // not ours: nothing else sets a read deadline
	}
	c.mu.Lock()
	busy := c.inflight > 0 || c.held
	c.mu.Unlock()
	now := time.Now()
	next := now.Add(t)
	if !busy {
		next = time.Unix(0, c.lastActive.Load()).Add(t)
		if !next.After(now) {
			return true
		}
	}
	c.nc.SetReadDeadline(next)
	return false
}

// idleReader is the connection as its FrameReader sees it: a read that
// hits the idle deadline (having read nothing, so the framing is intact) is
// retried unless the connection really has been idle for IdleTimeout.
type idleReader struct{ c *conn }

func (r idleReader) Read(p []byte) (int, error) {
	for {
		n, err := r.c.nc.Read(p)
		if n > 0 || !errors.Is(err, os.ErrDeadlineExceeded) || r.c.idleExpired() {
			return n, err
		}
	}
}

// beginShutdown cancels the connection's stream and closes it if idle.
func (c *conn) beginShutdown() {
	c.mu.Lock()
	if c.streamCancel != nil {
		c.streamCancel()
	}
	idle := !c.closed && c.inflight == 0 && !c.held
	if idle {
		c.closed = true
	}
	c.mu.Unlock()
	if idle {
		c.nc.Close()
	}
}

// abort cuts the connection whatever it is doing.
func (c *conn) abort() {
	c.nc.Close() // first: handlers that see ctx end cannot answer any more
	c.cancel()
}

// drop closes the connection after a write failure or a protocol decision;
// the reader notices and tears it down.
func (c *conn) drop() { c.nc.Close() }
