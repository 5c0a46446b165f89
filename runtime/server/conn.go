package server

// Goroutines
//
// A server connection has exactly these goroutines; none changes role.
//
//	reader    Started by Server.accepted (go c.serve), one per connection,
//	          for the connection's whole life, and the only goroutine that
//	          reads its socket. Per request it reads the header, waits for
//	          budget (a call slot, and the body's bytes against
//	          MaxRequestBytesPerConn: while there is none it reads nothing,
//	          so the peer is held back by the socket, not by our memory),
//	          reads the body and starts a handler goroutine, or serves the
//	          call itself when it qualifies, holding back its answer until
//	          it has served what it read (see Inline calls below); it
//	          also writes the refusal of a stream over MaxStreams (and, on a
//	          mux connection, MaxStreamsPerConn), and never runs a stream's
//	          handler. On a connection without mux, while a stream occupies
//	          it the reader reads no request: it waits for the stream to
//	          end, noticing meanwhile a peer that hangs up. On a mux
//	          connection (mux.go) it starts a stream's handler goroutine as
//	          it starts a call's, and reads on; it applies a StreamCredit
//	          at once to the mux stream of its seq (credit.go), waking that
//	          stream's Send if it waits for credit. When the connection ends (EOF,
//	          framing error, idle timeout, a failed write, shutdown: handlers
//	          and Close ask it to stop, they do not close the socket under
//	          it) it takes in up to 64 KiB the peer sent unread (closing with
//	          unread bytes would reset the peer), closes the socket, cancels
//	          the connection's context, waits for every handler goroutine and
//	          removes the connection from the server.
//	handler   Started by the reader, one per request not served inline, so
//	          at most MaxCallsPerConn at once (unary calls, the inline ones
//	          and the stream count alike; an unknown or refused request is a
//	          call too). It owns its request: it decodes the body and
//	          releases it at once, calls the user's handler, writes the
//	          answer, and returns its call slot and its bytes (a stream
//	          returns its bytes once decoded, its slot when it ends, after
//	          its StreamEnd is written). A mux stream's Send waits while
//	          the stream has no credit, at most StreamSendTimeout (then
//	          that stream ends, ResourceExhausted). Ends when the call does.
//	(writer)  No goroutine: the write side belongs to the connection's
//	          ipc.BatchWriter. A goroutine with an answer (a handler, or the
//	          reader flushing the answers it held) that finds it idle writes
//	          its frame and then every frame queued meanwhile, one write per
//	          batch. A unary answer
//	          that finds a write in progress is queued and its handler ends
//	          at once: its call slot stays taken until the writing goroutine
//	          has written it and returns the slot (conn.written). A stream's
//	          frame is queued for the flush goroutine (below), unless it is
//	          32 KiB or more and nobody writes: then its Send writes it and
//	          waits. Each write gets its own deadline,
//	          armed once at its start and never moved: WriteTimeout,
//	          StreamSendTimeout while a stream occupies the connection (a
//	          mux connection's streams share it with calls: WriteTimeout
//	          always; their frames interleave with answers frame by frame,
//	          through the one queue). A failed write closes
//	          the socket at once (it is broken anyway), which ends the
//	          reader.
//	flush     Started by a stream's Send (ipc.BatchWriter.SendMsg) that
//	          finds no write in progress, at most one at a time: it is the
//	          goroutine writing while the handler goes on encoding frames,
//	          and writes the queued frames batch by batch (at most 32 KiB
//	          queued behind the batch in flight, whatever the number of
//	          streams). Ends when the queue is empty; a dedicated stream's
//	          end waits for it (BatchWriter.Wait), so none outlives its
//	          stream; a mux stream's StreamEnd is queued behind its frames
//	          and waits like any WriteMsg (not for other streams' frames),
//	          so the flush goroutine may go on writing those after it: it
//	          ends when the queue is empty or, the socket being closed by
//	          the reader's end, at its next write. An answer written
//	          meanwhile waits for it like any WriteMsg.
//
// Inline calls: handing a call to a handler goroutine wakes a second OS
// thread, which is most of a round trip's cost on a Unix socket. So the
// reader serves a unary (or unknown) request itself, on its own goroutine,
// when its method's last inlineStreak (8) calls each had a handler time of
// at most MaxInlineCall (50 µs by default; < 0 turns inline serving off)
// and it came without a CallHeader or with one that has a deadline (see
// Extensions below); whatever else is in flight on handler
// goroutines, and however many more requests are buffered. Its slot and
// bytes are counted in MaxCallsPerConn and MaxRequestBytesPerConn like any
// other call's. It does not write the answer: it holds it in the writer's
// queue (ipc.BatchWriter.HoldMsg) and serves what else it has buffered,
// and flushes the answers held (BatchWriter.Flush) before it next reads
// the socket, before it waits for budget or for a stream's turn, once they
// reach 64 KiB (maxHeld), and before it ends the connection; a handler
// goroutine writing meanwhile takes them with its own answer. So requests
// that arrive together (a client's 16 goroutines' requests, coalesced into
// one write) cost one read and one write. A held answer keeps its call
// slot until it is written (conn.written), so at most MaxCallsPerConn
// answers are held.
//
// Head-of-line bound: reading pauses while an inline call runs, so every
// frame the peer sends after it on that connection (a request, a Cancel
// for a call on a handler goroutine, its hang-up) waits for it; other
// connections have readers of their own and do not wait for it (though a
// call of the same method there, served inline before the slow call ends,
// can block its own reader the same way). An answer held
// waits for the inline calls served after it, at most MaxCallsPerConn - 1
// of them. A qualified method's calls took at most MaxInlineCall each, 8
// in a row; one that suddenly blocks (a mutex, a slow disk) holds its
// connection's reader for as long as that one call runs, and then, being
// over MaxInlineCall, disqualifies the method: its calls run on handler
// goroutines until 8 in a row are fast again. One exception: a slow call
// that ends a run of at least inlineSettled (64) fast calls in a row is
// taken for a hiccup (the OS descheduling the reader's thread, a GC
// pause, which on a loaded machine end a run every few milliseconds), and
// a single fast call qualifies the method again; a slow call after that
// needs 8 fast ones again: between two slow calls on the reader come at
// least 8 fast calls, or 1 after a run of 64. A frame therefore waits
// behind at most one slow call, plus about MaxInlineCall per fast inline
// call read before it, and an answer is held at most about
// (MaxCallsPerConn - 1) x MaxInlineCall (63 x 50 µs, about 3.2 ms, at
// the defaults) plus one slow call. The role does not move: the reader is
// still the only goroutine that reads. While a call runs inline nobody
// watches for the peer hanging up, so a handler that can block until its
// client goes away should run with MaxInlineCall < 0.
//
// Extensions (control.go, envelope.go): the reader answers a hello that is
// the connection's first frame itself (a HelloAck, written before it reads
// on), and handles the per-call frames of an extended connection as it
// reads them, running no handler: a CallHeader is kept for the request that
// follows it (whose handler then gets a context of its own, registered by
// seq in conn.inflight until the call ends: a callCtx, which runs no timer
// and no goroutine until something waits on it), and a Cancel cancels the
// context registered for its seq at once, so a handler's context ends as
// soon as the reader reads its Cancel. A call with a header qualifies for
// inline serving only if the header has a deadline: a Cancel read behind an
// inline call waits like any request (the bound above), and the deadline
// ends the context of a handler that turns slow meanwhile; a call that can
// end only by its Cancel runs on a handler goroutine, so the reader is free
// to read that Cancel. A stream on an
// extended connection ends with a StreamEnd that its handler goroutine
// writes; Ready is written by Stream.Ready like a frame.
//
// Nothing else runs per connection but, once, when a dedicated stream's
// context ends, the context.AfterFunc that wakes the stream's blocked write
// (a mux stream's end must not break the connection's writes: its Send
// fails on its context instead, and a blocked write is bounded by
// WriteTimeout). No timer
// runs: the idle deadline is the reader's read deadline, moved only when it
// expires while calls are in flight.
//
// Memory a peer can make one connection hold: the 4 KiB read buffer, the
// bodies and decoded requests of at most MaxCallsPerConn calls, whose body
// bytes together stay within MaxRequestBytesPerConn (one request larger than
// that is admitted alone, up to MaxPayload), the answers waiting for the
// writer (at most one per call; those the reader holds, under 64 KiB
// plus one answer) or, during streams, at most 32 KiB of frames plus one
// per stream sending (a mux connection runs at most MaxStreamsPerConn),
// and, between writes, the writer's two batch buffers of
// at most 128 KiB each. An idle connection holds the read
// buffer, its small structs and whatever batch buffers it kept.

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

// aLongTimeAgo is a deadline in the past: it wakes blocked I/O at once.
var aLongTimeAgo = time.Unix(1, 0)

// connReadBuffer is a connection's read buffer: requests are small, and an
// idle connection should cost little (larger bodies bypass the buffer).
const connReadBuffer = 4 << 10

// conn is one server connection; see Goroutines above.
type conn struct {
	s      *Server
	nc     net.Conn
	fr     *ipc.FrameReader // the reader's alone
	bw     *ipc.BatchWriter
	ctx    context.Context // cancelled when the connection ends
	vals   context.Context // ctx's values, without its cancellation (callCtx.Value)
	cancel context.CancelFunc
	wg     sync.WaitGroup // handler goroutines
	freed  chan struct{}  // (1) a call slot or budget bytes were returned

	// ext: the connection negotiated the extensions (control.go); mux:
	// also the feature "mux" (mux.go). Set by the reader on the first
	// frame, before any handler starts; read-only after.
	ext, mux bool
	// hdr is the CallHeader the reader read last, for the request that
	// follows it (envelope.go); the reader's alone.
	hdr callHeader
	// freedBytes are request bytes of calls served inline whose answers
	// were held (the calls keep their slots until written): the reader
	// returns them to the budget itself, at its next admit, the only
	// place that looks at the budget, saving a lock per call; the
	// reader's alone.
	freedBytes int64
	// spare is a request struct for the reader's next request, left by
	// the last call it served inline (request.drop); the reader's alone.
	spare *request
	// held is how many bytes the writer's queue held when the reader last
	// held back an inline answer, 0 once it flushed (see "Inline calls");
	// the reader's alone.
	held int

	lastActive atomic.Int64 // mono() when the last call ended (or the connection began): every request holds a slot until then
	streamOver atomic.Bool  // the stream ended: wakes the reader's wait
	stop       atomic.Bool  // the connection is to close: wakes the reader

	mu       sync.Mutex
	calls    int   // calls holding a slot
	bytes    int64 // request body bytes held by those calls
	inBody   bool  // the reader holds a slot for a body it is reading
	waiting  bool  // the reader waits on freed (admit, waitCalls): a release signals it
	closed   bool  // no further dispatch; the socket is closed or closing
	stream   *Stream
	shutdown bool                // beginShutdown ran
	inflight map[uint64]*callCtx // calls that came with a CallHeader, and mux streams, by seq (envelope.go)
	mstreams map[uint64]*Stream  // the mux streams running, by seq (mux.go)
}

func newConn(s *Server, nc net.Conn) *conn {
	base := context.Background()
	if p, groups, ok := peerCred(nc); ok {
		base = context.WithValue(base, peerKey{}, p)
		if groups != nil {
			base = context.WithValue(base, groupsKey{}, groups)
		}
	}
	c := &conn{
		s:     s,
		nc:    nc,
		bw:    ipc.NewBatchWriter(nc),
		freed: make(chan struct{}, 1),
	}
	c.vals = context.WithValue(base, connKey{}, c)
	c.ctx, c.cancel = context.WithCancel(c.vals)
	c.bw.SetTimeout(s.cfg.writeTimeout)
	c.bw.SetWritten(c.written)
	c.fr = ipc.NewFrameReaderSize(idleReader{c}, s.cfg.maxPayload, connReadBuffer)
	return c
}

// serve is the reader goroutine.
func (c *conn) serve() {
	defer c.finish()
	if !c.authorize() {
		return
	}
	c.startIdle()
	for first := true; ; first = false {
		h, err := c.fr.ReadHeader()
		if err != nil {
			c.readFailed(err)
			return
		}
		if !c.admit(h.Length) {
			return
		}
		r, err := c.readRequest(h)
		if err != nil {
			c.mu.Lock()
			c.inBody = false
			c.mu.Unlock()
			c.release(int64(h.Length))
			c.readFailed(err)
			return
		}
		if first && h.MsgType == ipc.MsgHello && !c.s.cfg.legacy {
			if !c.hello(r) {
				return
			}
			continue
		}
		if c.ext && c.envelope(r) {
			continue
		}
		if !c.dispatch(r) {
			return
		}
	}
}

// finish ends the connection once its reader stops: every handler has
// returned when the server forgets it.
func (c *conn) finish() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.flushHeld() // answers to requests read before the end, such as garbage
	// Closing a Unix socket with unread bytes resets it: a peer that sent
	// requests we will not serve (during a stream, or as Close began)
	// would read ECONNRESET instead of an orderly end.
	discardUnread(c.nc, maxDiscard)
	c.nc.Close() // first: handlers that see ctx end cannot answer any more
	c.cancel()
	c.wg.Wait()
	c.s.forget(c)
}

func (c *conn) authorize() bool {
	auth := c.s.cfg.authorize
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
		c.refuseHello(err)
		return false
	}
	return true
}

// admit waits until the connection has a free call slot and room for n
// request bytes, and takes them; false means the connection is ending.
func (c *conn) admit(n uint32) bool {
	for {
		c.mu.Lock()
		c.waiting = false
		c.bytes -= c.freedBytes
		c.freedBytes = 0
		if c.closed {
			c.mu.Unlock()
			return false
		}
		if c.calls < c.s.cfg.maxCalls && (c.bytes == 0 || c.bytes+int64(n) <= c.s.cfg.maxBytes) {
			c.calls++
			c.bytes += int64(n)
			c.inBody = true
			c.mu.Unlock()
			return true
		}
		c.waiting = true
		c.mu.Unlock()
		c.flushHeld() // the answers held keep their slots and bytes
		select {
		case <-c.freed:
		case <-c.ctx.Done():
			return false
		}
	}
}

// maxHeld bounds the bytes of answers the reader holds back: past it, it
// flushes them before it reads on (see "Inline calls").
const maxHeld = 64 << 10

// hold notes that the reader held back an inline answer, the writer's
// queue now holding n bytes, and flushes when that is maxHeld or more.
func (c *conn) hold(n int) {
	c.held = n
	if n >= maxHeld {
		c.flushHeld()
	}
}

// flushHeld writes the answers the reader held back, unless a goroutine is
// writing, which then takes them with its next batch. Their calls end once
// they are written (conn.written), which returns their slots.
func (c *conn) flushHeld() {
	if c.held == 0 {
		return
	}
	c.held = 0
	if err := c.bw.Flush(); err != nil {
		c.drop()
	}
}

// releaseBytes returns n request bytes to the budget.
func (c *conn) releaseBytes(n int64) {
	if n == 0 {
		return
	}
	c.mu.Lock()
	c.bytes -= n
	waiting := c.waiting
	c.mu.Unlock()
	if waiting {
		c.signalFreed()
	}
}

// release returns a call slot and its n remaining request bytes.
func (c *conn) release(n int64) { c.releaseCalls(1, n) }

// releaseCalls returns k call slots and n request bytes. The last call of
// a shutting-down connection closes it; otherwise the idle clock restarts
// when nothing is left in flight.
func (c *conn) releaseCalls(k int, n int64) {
	c.mu.Lock()
	c.calls -= k
	c.bytes -= n
	idle := c.calls == 0
	closing := idle && c.shutdown && !c.closed
	if closing {
		c.closed = true
	}
	waiting := c.waiting
	c.mu.Unlock()
	if waiting {
		c.signalFreed()
	}
	switch {
	case closing:
		c.stopReading()
	case idle:
		c.touch()
	}
}

// signalFreed wakes the reader waiting on freed. Only a release that saw
// it waiting (c.waiting, set under c.mu where it found no room) signals, so
// the per-call path sends on no channel; a token left over from a wait
// that ended otherwise only makes the next wait look again.
func (c *conn) signalFreed() {
	select {
	case c.freed <- struct{}{}:
	default:
	}
}

// readRequest reads the body following h into a pooled buffer.
func (c *conn) readRequest(h ipc.Header) (*request, error) {
	r := getRequest(c, h)
	if h.Length > 0 {
		r.buf = r.bodyBuf(h.Length)
		body, err := c.fr.ReadBodyInto(*r.buf, h.Length)
		if err != nil {
			r.freeBody()
			putRequest(r)
			return nil, err
		}
		*r.buf = body
	}
	return r, nil
}

func (c *conn) readFailed(err error) {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, errStopped):
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		c.s.log.Debug("server: closing idle connection", "protocol", c.s.table.Protocol)
	case errors.Is(err, ipc.ErrInvalidMagic), errors.Is(err, ipc.ErrUnsupportedVersion), errors.Is(err, ipc.ErrFrameTooLarge):
		c.s.log.Warn("server: framing error; closing connection", "protocol", c.s.table.Protocol, "err", err)
	default:
		c.s.log.Debug("server: connection read failed", "protocol", c.s.table.Protocol, "err", err)
	}
}

// dispatch serves r: inline when it qualifies (see "Inline calls"), else
// on a handler goroutine it starts, or, for a stream, it runs the stream to
// its end. It reports whether the reader reads on.
func (c *conn) dispatch(r *request) bool {
	c.mu.Lock()
	c.inBody = false
	if c.closed || c.shutdown {
		// Requests that arrive after Close began are not served; the
		// connection closes once the calls in flight are answered.
		c.mu.Unlock()
		c.release(r.drop())
		c.mu.Lock()
		busy := !c.closed && c.calls > 0
		c.mu.Unlock()
		return busy
	}
	c.mu.Unlock()
	switch {
	case r.m != nil && r.m.stream != nil && c.mux:
		c.startMuxStream(r)
		return true
	case r.m != nil && r.m.stream != nil:
		return c.runStream(r)
	case r.call.inlineable() && (r.m == nil || c.s.cfg.maxInline >= 0 && r.m.inlineable()):
		r.inline = true
		c.serveUnary(r) // inline: see "Inline calls"
		return true
	}
	c.wg.Add(1)
	go r.serve()
	return true
}

// clockBase anchors mono.
var clockBase = time.Now()

// mono is the monotonic time since clockBase, the clock of the per-call
// path (idle clock, handler times): time.Since reads the monotonic clock
// only, where time.Now reads the wall clock too, each read costing about
// 70 ns on a VM's kvm-clock.
func mono() time.Duration { return time.Since(clockBase) }

// touch restarts the idle clock: the connection finished its last call.
// A request needs no touch of its own when it is read: it holds a call
// slot, so the connection is busy until the call ends and touches.
func (c *conn) touch() {
	if c.s.cfg.idleTimeout > 0 {
		c.lastActive.Store(int64(mono()))
	}
}

// startIdle sets the first idle deadline. Later ones are set only when one
// expires (see idleReader), so the hot path touches no timer.
func (c *conn) startIdle() {
	if t := c.s.cfg.idleTimeout; t > 0 {
		c.lastActive.Store(int64(mono()))
		c.nc.SetReadDeadline(time.Now().Add(t))
	} else {
		c.nc.SetReadDeadline(time.Time{})
	}
	if c.stop.Load() {
		// Close (stopReading) came before the reader started: its deadline
		// was just overwritten, and without this the reader would wait out
		// IdleTimeout (or forever) and Close with it.
		c.nc.SetReadDeadline(aLongTimeAgo)
	}
}

// idleExpired is called when the read deadline passes. It moves the
// deadline and reports false while the connection is busy (calls in flight,
// a stream) or has not been idle for IdleTimeout; true means close it.
func (c *conn) idleExpired() bool {
	t := c.s.cfg.idleTimeout
	if t <= 0 {
		return true // not ours: nothing else sets a read deadline
	}
	c.mu.Lock()
	busy := c.calls > 0 && !(c.calls == 1 && c.inBody) // a body being read is not work
	c.mu.Unlock()
	next := time.Now().Add(t)
	if !busy {
		idle := mono() - time.Duration(c.lastActive.Load())
		if idle >= t {
			return true
		}
		next = next.Add(-idle)
	}
	c.nc.SetReadDeadline(next)
	if c.stop.Load() || c.streamOver.Load() {
		// stopReading or a stream's end set its deadline meanwhile: keep it.
		c.nc.SetReadDeadline(aLongTimeAgo)
	}
	return false
}

// errStreamOver ends the reader's wait during a stream: the stream ended.
var errStreamOver = errors.New("server: stream over")

// errStopped ends the reader: the connection is to close (shutdown).
var errStopped = errors.New("server: connection stopped")

// maxDiscard bounds the unread bytes a closing connection takes in.
const maxDiscard = 64 << 10

// stopReading makes the reader end the connection: a handler or Close
// asks, the reader (which alone reads) closes the socket.
func (c *conn) stopReading() {
	c.stop.Store(true)
	c.nc.SetReadDeadline(aLongTimeAgo)
}

// idleReader is the connection as its FrameReader sees it: a read that
// hits the idle deadline (having read nothing, so the framing is intact) is
// retried unless the connection really has been idle for IdleTimeout, or a
// stream's end woke it.
type idleReader struct{ c *conn }

func (r idleReader) Read(p []byte) (int, error) {
	r.c.flushHeld() // what was read in one go is answered in one write
	for {
		n, err := r.c.nc.Read(p)
		if n > 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			return n, err
		}
		if r.c.stop.Load() {
			return 0, errStopped
		}
		if r.c.streamOver.Load() {
			return 0, errStreamOver
		}
		if r.c.idleExpired() {
			return n, err
		}
	}
}

// beginShutdown cancels the connection's stream and closes it if idle.
func (c *conn) beginShutdown() {
	c.mu.Lock()
	c.shutdown = true
	if c.stream != nil {
		c.stream.cancel()
	}
	for _, st := range c.mstreams {
		st.cancel()
	}
	idle := !c.closed && c.calls == 0
	if idle {
		c.closed = true
	}
	c.mu.Unlock()
	if idle {
		c.stopReading()
	}
}

// abort cuts the connection whatever it is doing.
func (c *conn) abort() {
	c.nc.Close() // first: handlers that see ctx end cannot answer any more
	c.cancel()
}

// drop closes the connection after a write failure or a protocol decision;
// the reader notices and ends it.
func (c *conn) drop() { c.nc.Close() }
