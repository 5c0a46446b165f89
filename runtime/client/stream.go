package client

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/status"
)

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
	if err := c.send(context.Background(), frame, nil); err != nil {
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
	c.sframe.buf = buf
	err = c.readFrame()
	f := c.cur
	c.cur = frameState{}
	if err != nil {
		c.fail(err)
		return ipc.Header{}, nil, c.Err()
	}
	return f.h, f.body, nil
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
	sc, err := DialContext(ctx, c.path, Options{MaxPayload: c.opts.MaxPayload, DialTimeout: c.opts.DialTimeout, ServerUID: c.opts.ServerUID, ErrorText: c.opts.ErrorText, Dial: c.opts.Dial})
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
				return &RemoteError{Method: s.info.Method, Text: text, Code: status.Unknown}
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
