package server

import (
	"context"
	"fmt"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// The generic constructors below are what generated code builds its Table
// from: each generated call is one Unary or Streaming value closed over the
// user's typed handler. Decoding, interceptors, nil-response defaults,
// error-field mapping and outgoing limit checks live here, once.

// Decodable is the pointer type of a request: it decodes itself.
type Decodable[T any] = ipc.Decodable[T]

// Encodable is the pointer type of a response or stream frame.
type Encodable[T any] = ipc.Encodable[T]

// NoPayload is the request type of a call whose request has no payload
// (ipc.NoPayload): it decodes an empty body, or a body of exactly one
// MessagePack value (a reflection client's nil), and ignores it;
// interceptors see a nil request.
type NoPayload = ipc.NoPayload

// UnaryCall describes a unary call for Unary.
type UnaryCall[Req, Resp any] struct {
	Name     string      // the call name, e.g. "Status"
	Request  ipc.MsgType // request message type
	Response ipc.MsgType // response message type
	Access   string      // the access level it needs (the schema's access:); "": none
	// Handle calls the user's handler with the decoded request.
	Handle func(ctx context.Context, req *Req) (*Resp, error)
	// SetError, when set, answers a handler error in the response's error
	// field: SetError(resp, text), resp being the handler's response or a new
	// one. Nil: handler errors are answered with Table.ErrorResponse.
	SetError func(resp *Resp, text string)
	// Check, when set, checks a response against the schema's limits before
	// it is sent; a response it rejects (with a *LimitError) is not sent, the
	// request is answered with Table.ErrorResponse and the server logs it.
	Check func(resp *Resp) error
}

// Unary returns the Method serving c. A nil response from the handler is
// sent as the zero value.
func Unary[Req, Resp any, PReq Decodable[Req], PResp Encodable[Resp]](c UnaryCall[Req, Resp]) Method {
	noReq := isNoPayload[Req]()
	serve := func(ctx context.Context, r *request) (msgp.Marshaler, error) {
		req := new(Req)
		err := ipc.DecodePayload(r.body(), PReq(req))
		r.decoded()
		if err != nil {
			return nil, &DecodeError{Method: c.Name, Err: err}
		}
		var resp *Resp
		if r.m.icptUnary == nil {
			resp, err = c.Handle(ctx, req)
		} else {
			resp, err = interceptUnary(ctx, r.m, req, noReq, c)
		}
		if err != nil {
			if c.SetError == nil || r.c.ext {
				return nil, err // an error frame on an extended connection
			}
			if resp == nil {
				resp = new(Resp)
			}
			c.SetError(resp, ErrorText(c.Name, err))
		}
		if resp == nil {
			resp = new(Resp)
		}
		if c.Check != nil {
			if err := c.Check(resp); err != nil {
				return nil, err
			}
		}
		return PResp(resp), nil
	}
	return Method{Name: c.Name, Request: c.Request, Response: c.Response, Access: c.Access, unary: serve}
}

// interceptUnary runs c's handler through the server's unary interceptors.
func interceptUnary[Req, Resp any](ctx context.Context, m *method, req *Req, noReq bool, c UnaryCall[Req, Resp]) (*Resp, error) {
	var in any = req
	if noReq {
		in = nil
	}
	next := func(ctx context.Context, in any) (any, error) {
		typed, err := requestFrom(in, req, noReq, c.Name)
		if err != nil {
			return nil, err
		}
		return c.Handle(ctx, typed)
	}
	out, err := m.icptUnary(ctx, in, &m.info, next)
	resp, ok := out.(*Resp)
	if !ok && out != nil && err == nil {
		err = fmt.Errorf("interceptor returned a %T from %s, want %T", out, c.Name, resp)
	}
	return resp, err
}

// requestFrom is the typed request an interceptor passed on: in, or the
// decoded request for a call without payload.
func requestFrom[Req any](in any, decoded *Req, noReq bool, name string) (*Req, error) {
	if noReq {
		return decoded, nil
	}
	r, ok := in.(*Req)
	if !ok {
		return nil, fmt.Errorf("interceptor passed a %T to %s, want %T", in, name, r)
	}
	return r, nil
}

func isNoPayload[Req any]() bool {
	_, ok := any((*Req)(nil)).(*NoPayload)
	return ok
}

// StreamCall describes a streaming call for Streaming.
type StreamCall[Req, Frame any] struct {
	Name    string      // the call name, e.g. "Logs"
	Request ipc.MsgType // request message type
	Frame   ipc.MsgType // stream frame message type
	Access  string      // the access level it needs (the schema's access:); "": none
	// Handle calls the user's handler with the decoded request and the
	// stream's typed sender.
	Handle func(ctx context.Context, req *Req, out *Sender[Frame]) error
	// Last, when set, reports whether a frame is the stream's last (the
	// schema's last_when field): after it the connection returns to
	// request/response mode. Nil: the stream runs until either side closes.
	Last func(f *Frame) bool
	// Check, when set, checks each frame against the schema's limits; a
	// frame it rejects is not sent (see Sender.Send).
	Check func(f *Frame) error
}

// Streaming returns the Method serving c.
func Streaming[Req, Frame any, PReq Decodable[Req], PFrame Encodable[Frame]](c StreamCall[Req, Frame]) Method {
	noReq := isNoPayload[Req]()
	encode := func(f *Frame) msgp.Marshaler { return PFrame(f) }
	serve := func(ctx context.Context, r *request, s *Stream) error {
		req := new(Req)
		err := ipc.DecodePayload(r.body(), PReq(req))
		r.decoded()
		if err != nil {
			return &DecodeError{Method: c.Name, Err: err}
		}
		sender := func(s *Stream) *Sender[Frame] {
			return &Sender[Frame]{s: s, t: c.Frame, last: c.Last, check: c.Check, encode: encode}
		}
		if r.m.icptStream == nil {
			return c.Handle(ctx, req, sender(s))
		}
		var in any = req
		if noReq {
			in = nil
		}
		return r.m.icptStream(ctx, in, s, &r.m.info, func(ctx context.Context, in any, s *Stream) error {
			typed, err := requestFrom(in, req, noReq, c.Name)
			if err != nil {
				return err
			}
			return c.Handle(ctx, typed, sender(s))
		})
	}
	return Method{Name: c.Name, Request: c.Request, Response: c.Frame, Access: c.Access, stream: serve}
}

// Sender is the typed sender of one stream's frames; generated sender
// interfaces (e.g. mgmt.LogsSender) are satisfied by it. It is safe for
// concurrent use.
type Sender[Frame any] struct {
	s      *Stream
	t      ipc.MsgType
	last   func(*Frame) bool
	check  func(*Frame) error
	encode func(*Frame) msgp.Marshaler
}

// Send sends one frame (nil: the zero value). A frame over the schema's
// limits is not sent: Send returns the *LimitError, the client is answered
// with the protocol's error response naming the field and limit, the server
// logs it, and the stream is over (the connection is then closed). See
// Stream.Send for everything else.
func (x *Sender[Frame]) Send(p *Frame) error {
	if p == nil {
		p = new(Frame)
	}
	if x.check != nil {
		if err := x.check(p); err != nil {
			return x.s.refuse(err)
		}
	}
	return x.s.Send(x.t, x.encode(p), x.last != nil && x.last(p))
}

// Ready says the subscription is live; see Stream.Ready.
func (x *Sender[Frame]) Ready() error { return x.s.Ready() }

// Stream returns the untyped stream under x.
func (x *Sender[Frame]) Stream() *Stream { return x.s }
