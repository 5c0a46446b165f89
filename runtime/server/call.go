package server

import (
	"errors"
	"fmt"
	"sync"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// request is one received request, owned by its handler goroutine from
// dispatch on. It holds a call slot and h.Length budget bytes until the
// call ends (a stream gives the bytes back once decoded).
type request struct {
	c     *conn
	m     *method // nil: unknown request type
	h     ipc.Header
	buf   *[]byte // the body (nil when empty or released)
	bytes int64   // budget bytes still held
	// call is the handler's context when the call came with a CallHeader
	// (deadline, metadata, cancellable: see envelope.go); nil: the
	// connection's. Its end method ends it and forgets the call.
	call *callCtx

	// queued: the writer queued the answer, and returns the call slot
	// once it has written it (conn.written).
	queued bool
	// inline: the reader serves r itself, and holds its answer for the
	// reader's next flush (conn.flushHeld) instead of writing it.
	inline bool

	// sbuf is the body's storage when it fits in small (most requests'
	// bodies do): buf points at it then, and no buffer comes from bufPool.
	sbuf  []byte
	small [smallBody]byte

	// serve is r's handler goroutine's function, made once per pooled
	// request: "go r.serve()" allocates nothing, where "go c.serveUnary(r)"
	// would allocate a closure per call.
	serve func()
}

var requestPool sync.Pool // of *request

// smallBody is the largest body a request holds in its own storage.
const smallBody = 64

func newRequest() *request {
	r := new(request)
	r.serve = func() {
		c := r.c // r is recycled by serveUnary
		c.serveUnary(r)
		c.wg.Done()
	}
	return r
}

// getRequest is the reader's: it takes the connection's spare request,
// else one from the pool.
func getRequest(c *conn, h ipc.Header) *request {
	r := c.spare
	if r != nil {
		c.spare = nil
	} else if r, _ = requestPool.Get().(*request); r == nil {
		r = newRequest()
	}
	r.c, r.m, r.h, r.buf, r.bytes, r.queued, r.inline = c, c.s.methods[h.MsgType], h, nil, int64(h.Length), false, false
	if ipc.IsReserved(h.MsgType) && !c.ext {
		r.m = nil // the runtime's calls exist on extended connections only
	}
	return r
}

func putRequest(r *request) {
	r.c, r.m, r.h, r.buf, r.bytes, r.call = nil, nil, ipc.Header{}, nil, 0, nil
	requestPool.Put(r)
}

// bodyBuf returns storage for a body of n bytes: the request's own for a
// small one, else a pooled buffer.
func (r *request) bodyBuf(n uint32) *[]byte {
	if n <= smallBody {
		r.sbuf = r.small[:0]
		return &r.sbuf
	}
	return getBuf(0)
}

// freeBody gives the body's storage back.
func (r *request) freeBody() {
	if r.buf != &r.sbuf {
		putBuf(r.buf)
	}
	r.buf = nil
}

func (r *request) body() []byte {
	if r.buf == nil {
		return nil
	}
	return (*r.buf)[:r.h.Length]
}

// decoded releases the body: the request has been decoded (or failed to).
// A stream also gives back its budget bytes, which it would otherwise hold
// for its whole life.
func (r *request) decoded() {
	r.freeBody()
	if r.m != nil && r.m.stream != nil {
		r.c.releaseBytes(r.bytes)
		r.bytes = 0
	}
}

// drop releases a request once its call is over (or unserved) and returns
// the budget bytes it held. One served inline, on the reader, becomes the
// connection's spare (getRequest): the per-call path touches no pool.
func (r *request) drop() int64 {
	r.freeBody()
	n := r.bytes
	if c := r.c; r.inline && c.spare == nil {
		*r = request{serve: r.serve}
		c.spare = r
		return n
	}
	putRequest(r)
	return n
}

// serveUnary answers one unary (or unknown) request and gives back its
// slot, on a handler goroutine or, inline, on the reader. The slot is held
// until the answer is written, so that answers waiting for a peer that does
// not read hold back the reader: when another goroutine is writing, the
// answer is queued for it and the slot goes with it (the writer returns it
// once the answer is out, conn.written), so serveUnary never waits for
// another's write. The handler's time is recorded for the method's inline
// qualification (MaxInlineCall).
func (c *conn) serveUnary(r *request) {
	defer func() {
		if r.call != nil {
			r.call.end()
		}
		switch {
		case r.queued && r.inline:
			c.freedBytes += r.drop() // returned by the reader's next admit
		case r.queued:
			c.releaseBytes(r.drop())
		default:
			c.release(r.drop())
		}
	}()
	m, seq := r.m, r.h.SeqNo
	var (
		resp msgp.Marshaler
		err  error
	)
	if m == nil {
		r.decoded()
		err = unknownType(r.h.MsgType)
	} else if limit := c.s.cfg.maxInline; limit < 0 {
		resp, err = c.callUnary(r)
	} else {
		start := mono()
		resp, err = c.callUnary(r)
		m.observe(mono()-start, limit)
	}
	if err != nil {
		c.answerError(m, seq, err, r)
		return
	}
	if err := c.write(m.Response, seq, resp, r); err != nil && !errors.Is(err, errWrite) {
		c.s.log.Error("server: cannot encode response", "protocol", c.s.table.Protocol, "method", m.Name, "err", err)
		c.answerError(m, seq, err, r)
	}
}

func (c *conn) callUnary(r *request) (resp msgp.Marshaler, err error) {
	defer func() {
		if v := recover(); v != nil {
			r.decoded()
			resp, err = nil, c.s.recovered(r.m, v)
		}
	}()
	return r.m.unary(r.context(), r)
}

// ErrorText is the text sent for a handler error: err's message, or, when
// that is empty, one naming the method and the error's type, so that an
// error never reads as success on the wire (an empty error field means
// success).
func ErrorText(method string, err error) string {
	if text := err.Error(); text != "" {
		return text
	}
	return fmt.Sprintf("%s failed (%T with an empty message)", method, err)
}

// answerError answers the request seq with Table.ErrorResponse carrying
// err's text, or closes the connection when the table has none. It reports
// whether the answer was written (or queued, for r: see write).
func (c *conn) answerError(m *method, seq uint64, err error, r *request) bool {
	name := ""
	if m != nil {
		name = m.Name
	}
	var (
		de *DecodeError
		le *LimitError
	)
	switch {
	case errors.As(err, &de):
		c.s.log.Debug("server: malformed request", "protocol", c.s.table.Protocol, "method", name, "err", err)
	case errors.As(err, &le):
		c.s.log.Error("server: answer over the schema's limits not sent", "protocol", c.s.table.Protocol,
			"method", name, "field", le.Field, "limit", le.Limit, "max", le.Max, "got", le.Got)
	}
	if c.ext {
		if werr := c.write(ipc.MsgError, seq, errorFrame(name, err), r); werr != nil {
			return false
		}
		return true
	}
	if c.s.table.ErrorResponse == nil {
		c.s.log.Warn("server: no error response in table; closing connection", "protocol", c.s.table.Protocol, "err", err)
		c.drop()
		return false
	}
	t, resp := c.s.table.ErrorResponse(ErrorText(name, err))
	if werr := c.write(t, seq, resp, r); werr != nil {
		if !errors.Is(werr, errWrite) {
			c.s.log.Error("server: cannot encode error response", "protocol", c.s.table.Protocol, "err", werr)
			c.drop()
		}
		return false
	}
	return true
}

// errWrite marks a failed write (the connection is then dropped), as opposed
// to an answer that could not be encoded.
var errWrite = errors.New("server: write failed")

// write sends one frame through the connection's writer. An answer that
// cannot be encoded is returned as is (nothing was written); a write error
// drops the connection and returns errWrite. With r, the unary request the
// frame answers, write does not wait for another goroutine's write: the
// frame may be queued (r.queued), its call slot going with it; and when the
// reader serves r inline, the frame is held for the reader's next flush
// (see "Inline calls" in conn.go).
func (c *conn) write(t ipc.MsgType, seq uint64, m msgp.Marshaler, r *request) error {
	h := ipc.Header{MsgType: t, SeqNo: seq}
	var err error
	switch {
	case r != nil && r.inline:
		var n int
		if n, err = c.bw.HoldMsg(h, m); err == nil {
			r.queued = true
			c.hold(n)
		}
	case r != nil:
		r.queued, err = c.bw.QueueMsg(h, m)
	default:
		err = c.bw.WriteMsg(h, m)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ipc.ErrEncodePanic), errors.Is(err, ipc.ErrFrameTooLarge):
		return err
	}
	c.s.log.Debug("server: write failed; closing connection", "protocol", c.s.table.Protocol, "err", err)
	c.drop()
	return errWrite
}

// written is the writer's report on answers it queued (see write): n of
// them are written (err nil) or lost with the connection. Either way their
// calls are over.
func (c *conn) written(n int, err error) {
	if err != nil {
		c.s.log.Debug("server: write failed; closing connection", "protocol", c.s.table.Protocol, "err", err)
		c.drop()
	}
	c.releaseCalls(n, 0)
}
