package client

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// call is one pending unary exchange; pooled with its channel and buffer.
type call struct {
	ch        chan result // a promotion and a result at most: sends never block
	buf       []byte      // response payload storage
	seq       uint64
	conn      *Conn  // for abort
	abortFn   func() // cl.abort, bound once
	promoted  bool   // handed the reading role (guarded by conn.mu)
	abandoned bool   // may still be written to: never recycled
}

type result struct {
	h       ipc.Header
	body    []byte // aliases call.buf
	err     error
	promote bool // the reading role is the receiver's now
}

// keepBuf is the largest buffer a pooled call or frame buffer keeps.
const keepBuf = 64 << 10

var (
	callPool = sync.Pool{New: func() any {
		cl := &call{ch: make(chan result, 2)}
		cl.abortFn = cl.abort
		return cl
	}}
	bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}
)

func releaseCall(cl *call) {
	if cl.abandoned {
		return
	}
	if cap(cl.buf) > keepBuf {
		cl.buf = nil
	}
	cl.promoted, cl.conn = false, nil
	callPool.Put(cl)
}

// Invoke sends req (nil: empty payload) as a frame of type info.Request and
// decodes the response, which must be of type info.Response, into resp (nil:
// not decoded). A response of another type fails with a *ResponseTypeError
// naming both types. ctx bounds the wait for the response: when it ends the
// call returns ctx's error (wrapped) at once, other calls on the connection
// are unaffected, and the late response is discarded. The request write
// itself is not interruptible; it only blocks while the server is not reading.
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
	cl, r, err := c.roundTrip(ctx, info.Request, req, info.Method)
	if err != nil {
		return err
	}
	defer releaseCall(cl)
	if r.h.MsgType != info.Response {
		if c.opts.ErrorText != nil {
			if text, ok := c.opts.ErrorText(r.h.MsgType, r.body); ok {
				return &RemoteError{Method: info.Method, Text: text}
			}
		}
		return &ResponseTypeError{Method: info.Method, Got: r.h.MsgType, Want: info.Response}
	}
	if resp == nil {
		return nil
	}
	if err := ipc.DecodePayload(r.body, resp); err != nil {
		return fmt.Errorf("client: %s: decode response: %w", info.Method, err)
	}
	return nil
}

// roundTrip sends one request and waits for its response. On success the
// caller owns cl (r.body aliases cl.buf) and releases it.
func (c *Conn) roundTrip(ctx context.Context, t ipc.MsgType, req msgp.Marshaler, name string) (*call, result, error) {
	if err := ctx.Err(); err != nil {
		return nil, result{}, fmt.Errorf("client: %s: %w", name, err)
	}
	bp, frame, err := encode(t, req)
	if err != nil {
		return nil, result{}, fmt.Errorf("client: %s: %w", name, err)
	}
	defer recycle(bp, frame)
	cl := callPool.Get().(*call)
	seq, err := c.write(frame, cl)
	if err != nil {
		if seq == 0 {
			callPool.Put(cl)
		} // else the failure was handed to cl: abandon it
		return nil, result{}, err
	}
	r, err := c.await(ctx, cl)
	if err != nil {
		// Not recycled: after an error it may still receive a message.
		if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
			return nil, result{}, fmt.Errorf("client: %s: %w", name, err)
		}
		return nil, result{}, err
	}
	return cl, r, nil
}

func (c *Conn) usableLocked() error {
	if c.err != nil {
		return c.err
	}
	if c.streaming {
		return errors.New("client: connection is dedicated to a stream")
	}
	return nil
}

// forget removes a pending call; false when the reader already took it.
func (c *Conn) forget(seq uint64, cl *call) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending[seq] != cl {
		return false
	}
	delete(c.pending, seq)
	return true
}

// encode builds a request frame (seq 0, patched by write) in a pooled buffer.
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

// seqOffset is the offset of the header's seq field (see package ipc).
const seqOffset = 5

// write numbers frame with the next seq, registers cl (nil: a stream
// request, which dedicates the connection) and writes the frame with a
// single Write; requests thus go out in seq order. It returns seq 0 when the
// connection was unusable; a write error breaks the connection, failing cl
// with the other pending calls.
func (c *Conn) write(frame []byte, cl *call) (uint64, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	if err := c.usableLocked(); err != nil {
		c.mu.Unlock()
		return 0, err
	}
	c.seq++
	seq := c.seq
	if cl != nil {
		cl.seq = seq
		c.pending[seq] = cl
	} else {
		if len(c.pending) > 0 {
			c.mu.Unlock()
			return 0, errors.New("client: calls in flight; cannot start a stream")
		}
		c.streaming = true
	}
	c.mu.Unlock()
	binary.BigEndian.PutUint64(frame[seqOffset:], seq)
	if _, err := c.fw.WriteRaw(frame); err != nil {
		c.fail(fmt.Errorf("write: %w", err))
		return seq, c.Err()
	}
	return seq, nil
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

// Call is cliwrap's untyped exchange: payload is nil, a msgp.Marshaler or
// raw msgpack bytes ([]byte). It returns the response frame as read; the
// payload is the caller's.
func (c *Conn) Call(t ipc.MsgType, payload any) (ipc.Header, []byte, error) {
	m, err := asMarshaler(payload)
	if err != nil {
		return ipc.Header{}, nil, err
	}
	_, r, err := c.roundTrip(context.Background(), t, m, "call "+t.String())
	if err != nil {
		return ipc.Header{}, nil, err
	}
	return r.h, r.body, nil // the call is not recycled: body is the caller's
}

// Stream is cliwrap's untyped stream start: it sends a streaming request on
// this connection, which is then dedicated to the stream; read its frames
// with ReadFrame. Unary calls on the connection fail from then on.
func (c *Conn) Stream(t ipc.MsgType, payload any) error {
	m, err := asMarshaler(payload)
	if err != nil {
		return err
	}
	bp, frame, err := encode(t, m)
	if err != nil {
		return fmt.Errorf("client: stream %s: %w", t, err)
	}
	defer recycle(bp, frame)
	if _, err := c.write(frame, nil); err != nil {
		return fmt.Errorf("client: stream %s: %w", t, err)
	}
	return nil
}

// ReadFrame reads the next frame of a stream started with Stream; one
// goroutine at a time may call it. The payload is the caller's. When the
// connection ends it returns the connection's error, which matches io.EOF
// when the server closed it.
func (c *Conn) ReadFrame() (ipc.Header, []byte, error) {
	return c.readStreamFrame(nil)
}

// readStreamFrame is ReadFrame reading into buf's backing array when it is
// large enough.
func (c *Conn) readStreamFrame(buf []byte) (ipc.Header, []byte, error) {
	c.mu.Lock()
	streaming, err := c.streaming, c.err
	c.mu.Unlock()
	switch {
	case err != nil:
		return ipc.Header{}, nil, err
	case !streaming:
		return ipc.Header{}, nil, errors.New("client: ReadFrame without Stream")
	}
	h, body, err := c.fr.ReadFrameInto(buf)
	if err != nil {
		c.fail(err)
		return ipc.Header{}, nil, c.Err()
	}
	return h, body, nil
}

// OpenStream dials a connection of its own, sends req as a frame of type
// info.Request, and returns the stream of info.Response frames. ctx bounds
// the dial and the whole stream: when it ends the stream's connection is
// closed and RecvInto returns ctx's error.
func (c *Conn) OpenStream(ctx context.Context, info *CallInfo, req msgp.Marshaler) (*Stream, error) {
	if err := c.Err(); err != nil {
		return nil, err
	}
	if c.stream == nil {
		return c.openStream(ctx, info, req)
	}
	return c.stream(ctx, info, req, func(ctx context.Context, req msgp.Marshaler) (*Stream, error) {
		return c.openStream(ctx, info, req)
	})
}

func (c *Conn) openStream(ctx context.Context, info *CallInfo, req msgp.Marshaler) (*Stream, error) {
	sc, err := DialContext(ctx, c.path, Options{MaxPayload: c.opts.MaxPayload, DialTimeout: c.opts.DialTimeout, ErrorText: c.opts.ErrorText})
	if err != nil {
		return nil, err
	}
	if err := sc.Stream(info.Request, req); err != nil {
		sc.Close()
		return nil, err
	}
	s := &Stream{c: sc, info: *info, ctx: ctx}
	s.stop = context.AfterFunc(ctx, func() { sc.fail(ctx.Err()) })
	return s, nil
}

// Stream is the client side of one streaming call, on its own connection.
// One goroutine at a time may call RecvInto; Close may be called from any.
type Stream struct {
	c    *Conn
	info CallInfo
	ctx  context.Context
	stop func() bool
	buf  []byte // frame buffer reused by RecvInto
}

// keepStreamBuf is the largest read buffer a Stream keeps between frames.
const keepStreamBuf = 1 << 20

// RecvInto reads the next frame into m. It returns io.EOF when the server
// ended the stream (closed the connection). A frame of another type than the
// stream's fails with a *ResponseTypeError naming both types. The generated
// typed stream turns the schema's last frame into io.EOF on the following Recv.
//
// The frame is read into a buffer the stream reuses, so m must not keep
// references into it (generated payload types copy what they decode).
// RecvInto is not safe for concurrent use.
func (s *Stream) RecvInto(m msgp.Unmarshaler) error {
	h, body, err := s.c.readStreamFrame(s.buf)
	if cap(body) <= keepStreamBuf {
		s.buf = body[:0]
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			return io.EOF
		}
		if cerr := s.ctx.Err(); cerr != nil {
			return fmt.Errorf("client: %s stream: %w", s.info.Method, cerr)
		}
		return err
	}
	if h.MsgType != s.info.Response {
		// A stream that fails before its first frame is answered with the
		// protocol's error response.
		if s.c.opts.ErrorText != nil {
			if text, ok := s.c.opts.ErrorText(h.MsgType, body); ok {
				return &RemoteError{Method: s.info.Method, Text: text}
			}
		}
		return &ResponseTypeError{Method: s.info.Method, Got: h.MsgType, Want: s.info.Response}
	}
	if err := ipc.DecodePayload(body, m); err != nil {
		return fmt.Errorf("client: %s: decode stream frame: %w", s.info.Method, err)
	}
	return nil
}

// Close ends the stream and closes its connection.
func (s *Stream) Close() error {
	s.stop()
	return s.c.Close()
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
