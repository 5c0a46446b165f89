package server

import (
	"context"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// Table is the dispatch table a generated package hands to the server: data,
// not reflection. The runtime never imports generated code; generated code
// builds a Table and passes it, with the user's handler, to New.
type Table struct {
	// Protocol names the protocol in logs, e.g. "mgmt".
	Protocol string
	// Methods lists every request the server answers, keyed by Request.
	Methods []Method
	// ErrorResponse builds the protocol's error response carrying text. It
	// answers unknown request types, undecodable payloads, handler panics and
	// handler errors of calls without an error field of their own. Nil: such
	// requests close the connection.
	ErrorResponse func(text string) (ipc.MsgType, msgp.Marshaler)
}

// Method is one request type. Exactly one of Unary and Stream is set.
type Method struct {
	Name     string      // the call name, e.g. "Status"
	Request  ipc.MsgType // the request message type
	Response ipc.MsgType // unary: the response type; stream: the stream frame type
	Unary    UnaryFunc
	Stream   StreamFunc
}

// UnaryFunc is generated glue for one unary call: decode body into the request
// type (a zero-length body is the zero value; an undecodable one returns a
// *DecodeError without calling the handler), call impl's method through
// intercept (which may be nil), and return the response to encode. A handler
// error on a call whose response has an error field comes back as a response
// with that field set and a nil error; otherwise the error is returned and the
// server answers with Table.ErrorResponse.
type UnaryFunc func(ctx context.Context, impl any, body []byte, intercept UnaryInterceptor) (msgp.Marshaler, error)

// StreamFunc is generated glue for one streaming call: decode body as for
// UnaryFunc, then call impl's method with a typed sender wrapping s, through
// intercept (which may be nil).
type StreamFunc func(ctx context.Context, impl any, body []byte, s *Stream, intercept StreamInterceptor) error

// CallInfo describes the call an interceptor wraps. The server supplies it
// from the Table: the info argument generated glue passes to an intercept
// func is ignored (glue may pass nil).
type CallInfo struct {
	Protocol string
	Method   string      // e.g. "Status"
	Request  ipc.MsgType // request message type
}

// UnaryHandler calls the user's handler for a decoded request.
type UnaryHandler func(ctx context.Context, req any) (any, error)

// UnaryInterceptor wraps unary calls (logging, metrics, auth). It must call
// next to run the handler, and may change its result.
type UnaryInterceptor func(ctx context.Context, req any, info *CallInfo, next UnaryHandler) (any, error)

// StreamHandler calls the user's streaming handler for a decoded request.
type StreamHandler func(ctx context.Context, req any, s *Stream) error

// StreamInterceptor wraps streaming calls.
type StreamInterceptor func(ctx context.Context, req any, s *Stream, info *CallInfo, next StreamHandler) error

// DecodeError reports a request payload that could not be decoded. The server
// answers it with Table.ErrorResponse and keeps the connection.
type DecodeError struct {
	Method string // e.g. "Status"
	Err    error
}

func (e *DecodeError) Error() string { return "malformed " + e.Method + " request: " + e.Err.Error() }
func (e *DecodeError) Unwrap() error { return e.Err }
