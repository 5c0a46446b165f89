// Package client is the connection that generated clients are built on: dial,
// concurrent calls matched by seq on one connection, and streams each on a
// connection of their own.
package client

import (
	"context"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// Options configure a Conn. Zero values pick documented defaults.
type Options struct {
	MaxPayload         uint32        // largest accepted response payload; 0: ipc.MaxPayloadSize
	DialTimeout        time.Duration // 0: default; DialContext's ctx also bounds it
	UnaryInterceptors  []UnaryInterceptor
	StreamInterceptors []StreamInterceptor
}

// CallInfo describes the call an interceptor wraps.
type CallInfo struct {
	Method   string
	Request  ipc.MsgType
	Response ipc.MsgType
}

// Invoker performs one unary exchange.
type Invoker func(ctx context.Context, req msgp.Marshaler, resp msgp.Unmarshaler) error

// UnaryInterceptor wraps unary calls on the client.
type UnaryInterceptor func(ctx context.Context, info *CallInfo, req msgp.Marshaler, resp msgp.Unmarshaler, next Invoker) error

// Streamer opens one stream.
type Streamer func(ctx context.Context, req msgp.Marshaler) (*Stream, error)

// StreamInterceptor wraps stream opening on the client.
type StreamInterceptor func(ctx context.Context, info *CallInfo, req msgp.Marshaler, next Streamer) (*Stream, error)

// RemoteError is a non-empty error field in a response: the server's text.
// Generated typed methods return it (matchable with errors.As) together with
// the decoded response.
type RemoteError struct {
	Method string // e.g. "Status"
	Text   string // the remote error text, verbatim
}

func (e *RemoteError) Error() string { return e.Method + ": " + e.Text }

// Conn is one client connection; safe for concurrent use.
type Conn struct {
	// fields private to the runtime
}

// Dial connects to the Unix socket at path.
func Dial(path string, opts Options) (*Conn, error) {
	return DialContext(context.Background(), path, opts)
}

// DialContext connects to the Unix socket at path, bounded by ctx.
func DialContext(ctx context.Context, path string, opts Options) (*Conn, error) {
	panic("runtime/client: DialContext not implemented yet")
}

// Invoke sends req (nil: empty payload) as a frame of type reqType and decodes
// the response of type respType into resp. A response of another type fails
// with an error naming both types.
func (c *Conn) Invoke(ctx context.Context, info *CallInfo, req msgp.Marshaler, resp msgp.Unmarshaler) error {
	panic("runtime/client: Invoke not implemented yet")
}

// OpenStream dials a connection of its own, sends req as a frame of type
// info.Request, and returns the stream of info.Response frames.
func (c *Conn) OpenStream(ctx context.Context, info *CallInfo, req msgp.Marshaler) (*Stream, error) {
	panic("runtime/client: OpenStream not implemented yet")
}

// Call is cliwrap's untyped exchange: payload is nil, a msgp.Marshaler or
// raw msgpack bytes ([]byte). It returns the response frame as read.
func (c *Conn) Call(t ipc.MsgType, payload any) (ipc.Header, []byte, error) {
	panic("runtime/client: Call not implemented yet")
}

// Stream is cliwrap's untyped stream start: it sends a streaming request on
// this connection, which is then dedicated to the stream; read its frames
// with ReadFrame.
func (c *Conn) Stream(t ipc.MsgType, payload any) error {
	panic("runtime/client: Stream not implemented yet")
}

// ReadFrame reads the next frame of a stream started with Stream.
func (c *Conn) ReadFrame() (ipc.Header, []byte, error) {
	panic("runtime/client: ReadFrame not implemented yet")
}

// Close closes the connection; pending calls fail with an error saying so.
func (c *Conn) Close() error { panic("runtime/client: Close not implemented yet") }

// Stream is the client side of one streaming call, on its own connection.
type Stream struct {
	// fields private to the runtime
}

// RecvInto reads the next frame into m. It returns io.EOF when the server
// ended the stream (closed the connection). A frame of another type than the
// stream's fails with an error naming both types. The generated typed stream
// turns the schema's last frame into io.EOF on the following Recv.
func (s *Stream) RecvInto(m msgp.Unmarshaler) error {
	panic("runtime/client: Stream.RecvInto not implemented yet")
}

// Close ends the stream and closes its connection.
func (s *Stream) Close() error { panic("runtime/client: Stream.Close not implemented yet") }
