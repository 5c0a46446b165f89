package server

import (
	"context"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// Table is the dispatch table a generated package hands to the server: data,
// not reflection. The runtime never imports generated code; generated code
// builds a Table from the constructors Unary and Streaming, closed over the
// user's typed handler, and passes it to New.
type Table struct {
	// Protocol names the protocol in logs, e.g. "mgmt".
	Protocol string
	// Schema is the text of the schema the table was generated from, as the
	// generated package embeds it: what the server answers Describe with
	// (with its SHA-256), on connections that negotiated the extensions.
	Schema string
	// Methods lists every request the server answers, keyed by Request.
	Methods []Method
	// ErrorResponse builds the protocol's error response carrying text. It
	// answers unknown request types, undecodable payloads, handler panics,
	// responses over the schema's limits and handler errors of calls without
	// an error field of their own. Nil: such requests close the connection.
	ErrorResponse func(text string) (ipc.MsgType, msgp.Marshaler)
}

// Method is one request type of a Table, built by Unary or Streaming.
type Method struct {
	Name     string      // the call name, e.g. "Status"
	Request  ipc.MsgType // the request message type
	Response ipc.MsgType // unary: the response type; stream: the stream frame type
	Access   string      // the access level the call needs (the schema's access:); "": none

	unary  unaryFunc  // set by Unary
	stream streamFunc // set by Streaming
}

// IsStream reports whether m is a streaming call.
func (m *Method) IsStream() bool { return m.stream != nil }

// unaryFunc serves one unary request: decode its body (releasing it), call
// the handler through the server's interceptors (bound in r.m), and return
// the response to send.
type unaryFunc func(ctx context.Context, r *request) (msgp.Marshaler, error)

// streamFunc serves one streaming request the same way, sending on s.
type streamFunc func(ctx context.Context, r *request, s *Stream) error

// CallInfo describes the call an interceptor wraps; the server builds it
// from the Table.
type CallInfo struct {
	Protocol string
	Method   string      // e.g. "Status"
	Request  ipc.MsgType // request message type
	Access   string      // the access level it needs; "": none (Options.Access)
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
