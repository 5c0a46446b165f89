package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/status"
)

// call is one pending unary exchange; pooled with its channel and buffer.
type call struct {
	ch           chan result // a promotion and a result at most: sends never block
	buf          []byte      // response payload storage
	h            ipc.Header  // the answer's header, once roundTrip returns the call (its body is buf)
	req          []byte      // request frame storage (roundTrip's): the pooled call carries it, so a call takes no buffer of its own from bufPool
	seq          uint64
	name         string          // the method, for errors
	ctx          context.Context // the call's, for errors
	start        time.Time       // when the call began, for errors
	conn         *Conn           // for abort and writeAbort
	abortFn      func()          // cl.abort, bound once
	writeAbortFn func()          // cl.writeAbort, bound once
	aborted      atomic.Bool     // the call's context ended while it held a role or its answer was being read
	promoted     bool            // handed the reading role (guarded by conn.mu)
	abandoned    bool            // may still be written to: never recycled
	hdrLen       int             // length of the CallHeader frame sent before the request; 0: none
	forHello     bool            // a waitHello's: its turn as reader ends with the hello's answer
	lead         bool            // its writer took the reading role for it (write.go), for its await
	ms           *Stream         // a mux stream's Recv (mux.go): not in pending, never pooled
	leading      atomic.Bool     // (ms) its Recv holds the reading role: the stream's AfterFunc aborts it
}

type result struct {
	h       ipc.Header
	body    []byte // aliases call.buf
	err     error
	promote bool // the reading role is the receiver's now
	queued  bool // (a mux stream's lead) its frame went to its queue
}

// keepBuf is the largest buffer a pooled call or frame buffer keeps.
const keepBuf = 64 << 10

var (
	callPool = sync.Pool{New: func() any {
		cl := &call{ch: make(chan result, 2)}
		cl.abortFn = cl.abort
		cl.writeAbortFn = cl.writeAbort
		return cl
	}}
	bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}
)

func getCall(ctx context.Context, name string, start time.Time) *call {
	cl := callPool.Get().(*call)
	cl.ctx, cl.name, cl.start = ctx, name, start
	return cl
}

// releaseCall recycles cl unless something may still reach it: an abort
// callback, or a message in its channel.
func releaseCall(cl *call) {
	if cl.abandoned || len(cl.ch) != 0 {
		return
	}
	if cap(cl.buf) > keepBuf {
		cl.buf = nil
	}
	if cap(cl.req) > keepBuf {
		cl.req = nil
	}
	cl.promoted, cl.conn, cl.ctx, cl.name, cl.forHello, cl.hdrLen, cl.lead = false, nil, nil, "", false, 0, false
	cl.aborted.Store(false)
	callPool.Put(cl)
}

// Invoke sends req (nil: empty payload) as a frame of type info.Request and
// decodes the response, which must be of type info.Response, into resp (nil:
// not decoded). A response of another type fails with a *ResponseTypeError
// naming both types. ctx bounds the whole call: when it ends the call
// returns ctx's error (wrapped) at once; other calls on the connection are
// unaffected and a late response is discarded, unless the server was in the
// middle of a frame the call needed: then the connection is poisoned (see
// the package doc) and the error also matches ErrClosed.
func (c *Conn) Invoke(ctx context.Context, info *CallInfo, req msgp.Marshaler, resp msgp.Unmarshaler) error {
	if c.unary == nil {
		return c.invoke(ctx, info, req, resp)
	}
	return c.intercepted(ctx, *info, req, resp)
}

// intercepted runs a call through the interceptors on a copy of its
// CallInfo, so that Invoke's info does not escape: a generated caller's
// &CallInfo{...} stays on its stack.
func (c *Conn) intercepted(ctx context.Context, info CallInfo, req msgp.Marshaler, resp msgp.Unmarshaler) error {
	return c.unary(ctx, &info, req, resp, func(ctx context.Context, req msgp.Marshaler, resp msgp.Unmarshaler) error {
		return c.invoke(ctx, &info, req, resp)
	})
}

func (c *Conn) invoke(ctx context.Context, info *CallInfo, req msgp.Marshaler, resp msgp.Unmarshaler) error {
	cl, err := c.roundTrip(ctx, info.Request, req, info.Method)
	if err != nil {
		return err
	}
	if cl.h.MsgType != info.Response {
		err = c.unexpected(info, cl.h.MsgType, cl.buf)
	} else if resp != nil {
		if err = ipc.DecodePayload(cl.buf, resp); err != nil {
			err = fmt.Errorf("client: %s: decode response: %w", info.Method, err)
		}
	}
	releaseCall(cl)
	return err
}

// unexpected is the error of a call answered by a frame of type t, body
// body, not of the type it expects.
func (c *Conn) unexpected(info *CallInfo, t ipc.MsgType, body []byte) error {
	if t == ipc.MsgError && c.extended() {
		return remoteError(info.Method, body)
	}
	if c.opts.ErrorText != nil {
		if text, ok := c.opts.ErrorText(t, body); ok {
			return &RemoteError{Method: info.Method, Text: text, Code: status.Unknown}
		}
	}
	return &ResponseTypeError{Method: info.Method, Got: t, Want: info.Response}
}

// roundTrip sends one request and waits for its response. On success the
// caller owns cl, which holds the response (cl.h, its body in cl.buf),
// and releases it.
func (c *Conn) roundTrip(ctx context.Context, t ipc.MsgType, req msgp.Marshaler, name string) (*call, error) {
	var start time.Time
	if ctx.Done() != nil { // else it never ends: Err is nil
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("client: %s: %w", name, err)
		}
		// A StallError's Waited counts the encoding too; only a call whose
		// context can end gets one, so the others read no clock.
		start = time.Now()
	}
	hdr, withHdr, err := c.envelope(ctx)
	if err != nil {
		return nil, fmt.Errorf("client: %s: %w", name, err)
	}
	cl := getCall(ctx, name, start)
	if cl.req == nil {
		cl.req = make([]byte, 0, 4<<10)
	}
	frame, hdrLen, err := encodeCallInto(cl.req[:0], t, &hdr, withHdr, req)
	if err != nil {
		releaseCall(cl)
		return nil, fmt.Errorf("client: %s: %w", name, err)
	}
	cl.hdrLen = hdrLen
	err = c.send(ctx, frame, cl)
	// send wrote frame or copied it into the write queue: its storage is
	// the call's again.
	cl.req = frame[:0]
	if err != nil { // cl was not registered: nothing was written
		releaseCall(cl)
		if errors.Is(err, ErrClosed) {
			err = &notSentError{err}
		}
		return nil, callErr(ctx, name, err)
	}
	h, err := c.await(ctx, cl)
	if err != nil {
		// Not recycled: after an error it may still receive a message.
		return nil, callErr(ctx, name, err)
	}
	cl.h = h
	return cl, nil
}

// callErr is the error a call returns: its context's error wrapped with
// its name; the connection's error, also matching the context's error
// when that ended too.
func callErr(ctx context.Context, name string, err error) error {
	ctxErr := ctx.Err()
	switch {
	case ctxErr == nil:
		return err
	case err == ctxErr:
		return fmt.Errorf("client: %s: %w", name, err)
	case errors.Is(err, ErrClosed):
		return &ctxConnError{ctxErr: ctxErr, conn: err}
	}
	return err
}

// encode builds a request frame (seq 0, patched by send) in a pooled buffer.
func encode(t ipc.MsgType, req msgp.Marshaler) (*[]byte, []byte, error) {
	bp := bufPool.Get().(*[]byte)
	frame, err := ipc.AppendMsgFrame((*bp)[:0], ipc.Header{MsgType: t}, req)
	if err != nil {
		bufPool.Put(bp)
		return nil, nil, fmt.Errorf("encode request: %w", err)
	}
	return bp, frame, nil
}

func recycle(bp *[]byte, frame []byte) {
	if cap(frame) <= keepBuf {
		*bp = frame[:0]
		bufPool.Put(bp)
	}
}

// CallContext is cliwrap's untyped exchange bounded by ctx (see Invoke for
// what its end does): payload is nil, a msgp.Marshaler or raw msgpack bytes
// ([]byte). It returns the response frame as read; the payload is the
// caller's.
func (c *Conn) CallContext(ctx context.Context, t ipc.MsgType, payload any) (ipc.Header, []byte, error) {
	m, err := asMarshaler(payload)
	if err != nil {
		return ipc.Header{}, nil, err
	}
	cl, err := c.roundTrip(ctx, t, m, "call "+t.String())
	if err != nil {
		return ipc.Header{}, nil, err
	}
	return cl.h, cl.buf, nil // the call is not recycled: its buf is the caller's
}

// Call is cliwrap's untyped exchange, CallContext without a context: it
// waits for the answer as long as the connection lives.
func (c *Conn) Call(t ipc.MsgType, payload any) (ipc.Header, []byte, error) {
	return c.CallContext(context.Background(), t, payload)
}

// rawPayload is payload bytes already encoded as msgpack.
type rawPayload []byte

func (p rawPayload) MarshalMsg(b []byte) ([]byte, error) { return append(b, p...), nil }

func asMarshaler(payload any) (msgp.Marshaler, error) {
	switch p := payload.(type) {
	case nil:
		return nil, nil
	case msgp.Marshaler:
		return p, nil
	case []byte:
		return rawPayload(p), nil
	}
	return nil, fmt.Errorf("client: unsupported payload type %T (want nil, msgp.Marshaler or []byte)", payload)
}

// chainUnary folds interceptors, outermost first, into one; nil for none.
func chainUnary(ints []UnaryInterceptor) UnaryInterceptor {
	ints = append([]UnaryInterceptor(nil), ints...)
	if len(ints) == 0 {
		return nil
	}
	return func(ctx context.Context, info *CallInfo, req msgp.Marshaler, resp msgp.Unmarshaler, final Invoker) error {
		return ints[0](ctx, info, req, resp, unaryNext(ints[1:], info, final))
	}
}

func unaryNext(ints []UnaryInterceptor, info *CallInfo, final Invoker) Invoker {
	if len(ints) == 0 {
		return final
	}
	return func(ctx context.Context, req msgp.Marshaler, resp msgp.Unmarshaler) error {
		return ints[0](ctx, info, req, resp, unaryNext(ints[1:], info, final))
	}
}

// chainStream folds interceptors, outermost first, into one; nil for none.
func chainStream(ints []StreamInterceptor) StreamInterceptor {
	ints = append([]StreamInterceptor(nil), ints...)
	if len(ints) == 0 {
		return nil
	}
	return func(ctx context.Context, info *CallInfo, req msgp.Marshaler, final Streamer) (*Stream, error) {
		return ints[0](ctx, info, req, streamNext(ints[1:], info, final))
	}
}

func streamNext(ints []StreamInterceptor, info *CallInfo, final Streamer) Streamer {
	if len(ints) == 0 {
		return final
	}
	return func(ctx context.Context, req msgp.Marshaler) (*Stream, error) {
		return ints[0](ctx, info, req, streamNext(ints[1:], info, final))
	}
}
