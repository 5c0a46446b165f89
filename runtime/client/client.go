// Package client is the connection that generated clients are built on: dial,
// concurrent calls matched by seq on one connection, and streams each on a
// connection of their own.
//
// A Conn never redials. Once its connection breaks (the server closed it, a
// read or write failed, or Close was called) every pending call fails
// promptly with an error reading "client: connection closed: <cause>", and
// every later call fails at once with the same error; dial a new Conn to go
// on.
//
// Generated code checks its runtime with
//
//	const _ = client.SupportPackageIsVersion1
package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// SupportPackageIsVersion1 is referenced by generated clients: compiled
// against a runtime that lacks it, they fail to build.
const SupportPackageIsVersion1 = true

// DefaultDialTimeout bounds a dial when Options.DialTimeout is 0.
const DefaultDialTimeout = 5 * time.Second

// Options configure a Conn. Zero values pick documented defaults.
type Options struct {
	MaxPayload  uint32        // largest accepted response payload; 0: ipc.MaxPayloadSize
	DialTimeout time.Duration // 0: DefaultDialTimeout; DialContext's ctx also bounds it
	// ServerUID is the uid the server must run as, besides root; nil: the
	// client's own uid. Dial checks it (SO_PEERCRED, on Linux) and fails
	// with a *ServerUIDError naming the socket's owner otherwise.
	ServerUID          *uint32
	UnaryInterceptors  []UnaryInterceptor
	StreamInterceptors []StreamInterceptor

	// ErrorText recognises the protocol's error response (e.g. a
	// StatusResponse with Err set answering a request the server does not
	// know): when a unary call gets a response of another type than it
	// expects and ErrorText returns ok, the call fails with a *RemoteError
	// carrying text instead of a *ResponseTypeError. Generated clients set it.
	ErrorText func(t ipc.MsgType, body []byte) (text string, ok bool)
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

// ErrClosed matches (errors.Is) every error of a call on a broken Conn.
var ErrClosed = errors.New("client: connection closed")

// errClosedByClient is the cause of a Conn's failure after Close.
var errClosedByClient = errors.New("closed by client")

// ResponseTypeError reports a frame of another type than the call expects.
type ResponseTypeError struct {
	Method    string
	Got, Want ipc.MsgType
}

func (e *ResponseTypeError) Error() string {
	return fmt.Sprintf("client: %s: unexpected response type %s, want %s", e.Method, e.Got, e.Want)
}

// Conn is one client connection; safe for concurrent use. Requests are
// numbered 1, 2, 3, ... and written in that order, one Write per frame;
// responses are matched to calls by seq, in whatever order they arrive. A
// Conn starts no goroutine: one waiting caller at a time reads for all (see
// lead.go). It does not redial (see the package doc).
type Conn struct {
	path   string
	opts   Options
	nc     net.Conn
	fr     *ipc.FrameReader
	fw     *ipc.FrameWriter
	unary  UnaryInterceptor
	stream StreamInterceptor

	// Held by the goroutine in the reading role (see lead).
	leaderSeq uint64 // the leading call's seq
	midFrame  bool   // bytes of an unfinished frame have been consumed
	abortSeq  atomic.Uint64
	scratch   call // discarded payloads

	wmu sync.Mutex // held from numbering a request to writing it

	mu        sync.Mutex
	seq       uint64
	pending   map[uint64]*call
	err       error // why the connection broke; nil while usable
	streaming bool  // dedicated to a stream by Stream
	reading   bool  // a call holds the reading role
}

// Dial connects to the Unix socket at path.
func Dial(path string, opts Options) (*Conn, error) {
	return DialContext(context.Background(), path, opts)
}

// DialContext connects to the Unix socket at path, bounded by ctx and by
// Options.DialTimeout.
func DialContext(ctx context.Context, path string, opts Options) (*Conn, error) {
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	d := net.Dialer{Timeout: opts.DialTimeout}
	nc, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("client: dial %s: %w", path, err)
	}
	if err := checkServer(nc, path, &opts); err != nil {
		nc.Close()
		return nil, err
	}
	c := &Conn{
		path:    path,
		opts:    opts,
		nc:      nc,
		fw:      ipc.NewFrameWriter(nc),
		unary:   chainUnary(opts.UnaryInterceptors),
		stream:  chainStream(opts.StreamInterceptors),
		pending: make(map[uint64]*call),
	}
	c.fr = ipc.NewFrameReader(abortReader{c}, opts.MaxPayload)
	return c, nil
}

// Close closes the connection; pending calls fail with an error saying so.
func (c *Conn) Close() error {
	c.fail(errClosedByClient)
	return nil
}

// Err returns why the connection broke, or nil while it is usable.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// fail breaks the connection (once) and fails every pending call.
func (c *Conn) fail(cause error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = &ConnError{Cause: cause}
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	c.nc.Close()
	for _, cl := range pending {
		cl.ch <- result{err: c.err}
	}
}

// ConnError is the error of every call on a broken connection; it matches
// ErrClosed and unwraps to the cause (io.EOF when the server closed the
// connection).
type ConnError struct{ Cause error }

func (e *ConnError) Error() string        { return ErrClosed.Error() + ": " + e.Cause.Error() }
func (e *ConnError) Unwrap() error        { return e.Cause }
func (e *ConnError) Is(target error) bool { return target == ErrClosed }
