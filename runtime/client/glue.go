package client

import (
	"context"
	"io"
	"iter"
	"sync/atomic"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/status"
)

// What generated clients are built from: each generated unary method is one
// call to Unary with its UnaryCall, each streaming method one call to
// OpenTyped with its StreamCall, and each generated stream type an alias of
// TypedStream. Nil-request defaults, decoding, error-field mapping and the
// schema's last frame live here, once.

// Encodable is the pointer type of a request: it encodes itself.
type Encodable[T any] = ipc.Encodable[T]

// Decodable is the pointer type of a response or stream frame.
type Decodable[T any] = ipc.Decodable[T]

// NoPayload is the type of a request, response or stream frame without a
// payload (ipc.NoPayload): it encodes to nothing (an empty payload) and
// decodes an empty payload or one MessagePack value, which it ignores.
type NoPayload = ipc.NoPayload

// request is what a call sends for req: nil (an empty payload, and what
// interceptors see) for NoPayload, else req or, for a nil req, the zero
// value.
func request[Req any, PReq Encodable[Req]](req *Req) msgp.Marshaler {
	if _, none := any(req).(*NoPayload); none {
		return nil
	}
	if req == nil {
		req = new(Req)
	}
	return PReq(req)
}

// UnaryCall describes a unary call for Unary.
type UnaryCall[Resp any] struct {
	Info CallInfo
	// ErrorField, when set, returns the response's error field (the
	// schema's error_field): a non-empty one fails the call with a
	// *RemoteError, returned together with the response.
	ErrorField func(resp *Resp) string
}

// Unary makes the call c on conn (a *Conn or a *Redialer) with req (nil:
// the zero value) and returns the decoded response; see Conn.Invoke for
// errors and ctx.
func Unary[Req, Resp any, PReq Encodable[Req], PResp Decodable[Resp]](ctx context.Context, conn Caller, c *UnaryCall[Resp], req *Req) (*Resp, error) {
	resp := new(Resp)
	var out msgp.Unmarshaler = PResp(resp)
	if _, none := out.(*NoPayload); none {
		out = nil // not decoded; interceptors see nil
	}
	if err := conn.Invoke(ctx, &c.Info, request[Req, PReq](req), out); err != nil {
		return nil, err
	}
	if c.ErrorField != nil {
		if text := c.ErrorField(resp); text != "" {
			return resp, &RemoteError{Method: c.Info.Method, Text: text, Code: status.Unknown}
		}
	}
	return resp, nil
}

// StreamCall describes a streaming call for OpenTyped.
type StreamCall[Frame any] struct {
	Info CallInfo
	// Reset, when set, prepares a frame for decoding into it: the zero
	// value, keeping the capacity of its byte slices. Nil: the zero value.
	Reset func(f *Frame)
	// Bytes, when set, returns the frame's byte slice, whose msgpack key
	// is BytesKey: RecvInto then decodes a large value of it in place, in
	// the buffer the frame is read into, instead of copying it there
	// (the slice aliases that buffer, which is the caller's from then on).
	Bytes    func(f *Frame) *[]byte
	BytesKey string
	// Last, when set, reports the stream's last frame (the schema's
	// last_when): the stream closes after it and Recv returns io.EOF.
	Last func(f *Frame) bool
}

// OpenTyped opens the stream c with req (nil: the zero value) on a
// connection of its own; see Conn.OpenStream.
func OpenTyped[Req, Frame any, PReq Encodable[Req], PFrame Decodable[Frame]](ctx context.Context, conn Caller, c *StreamCall[Frame], req *Req) (*TypedStream[Frame, PFrame], error) {
	s, err := conn.OpenStream(ctx, &c.Info, request[Req, PReq](req))
	if err != nil {
		return nil, err
	}
	return &TypedStream[Frame, PFrame]{s: s, c: c}, nil
}

// TypedStream is the client side of a stream of Frame values. Recv returns
// its frames, then io.EOF after the last frame (StreamCall.Last) or when
// the server ends the stream. Close it when done. One goroutine at a time
// may receive; Close may be called from any.
type TypedStream[Frame any, PFrame Decodable[Frame]] struct {
	s    *Stream
	c    *StreamCall[Frame]
	done atomic.Bool // set by Close or the last frame
}

// RecvInto decodes the next frame into p, reusing the capacity of its byte
// slices; p must not be nil. It returns io.EOF where Recv would. A large
// value of the slice StreamCall.Bytes names is decoded in place: the slice
// aliases the buffer the frame was read into, which is p's from then on
// (given back in p, it is reused for a later frame; the stream never
// writes to it otherwise).
func (x *TypedStream[Frame, PFrame]) RecvInto(p *Frame) error {
	if x.done.Load() {
		return io.EOF
	}
	if x.c.Reset != nil {
		x.c.Reset(p)
	} else {
		*p = *new(Frame)
	}
	var dst *[]byte
	if x.c.Bytes != nil {
		dst = x.c.Bytes(p)
	}
	if err := x.s.recvInto(PFrame(p), dst, x.c.BytesKey); err != nil {
		return err
	}
	if x.c.Last != nil && x.c.Last(p) {
		x.done.Store(true)
		_ = x.s.closeLast()
	}
	return nil
}

// Recv returns the next frame in a new value.
func (x *TypedStream[Frame, PFrame]) Recv() (*Frame, error) {
	p := new(Frame)
	if err := x.RecvInto(p); err != nil {
		return nil, err
	}
	return p, nil
}

// Close ends the stream and closes its connection.
func (x *TypedStream[Frame, PFrame]) Close() error {
	x.done.Store(true)
	return x.s.Close()
}

// All ranges over the remaining frames; it yields a non-nil error once,
// when the stream fails, and closes the stream when the loop ends.
func (x *TypedStream[Frame, PFrame]) All() iter.Seq2[*Frame, error] {
	return func(yield func(*Frame, error) bool) {
		defer x.Close()
		for {
			p, err := x.Recv()
			if err == io.EOF {
				return
			}
			if !yield(p, err) || err != nil {
				return
			}
		}
	}
}
