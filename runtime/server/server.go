// Package server is the Unix-socket server that generated packages plug into.
// It is protocol-agnostic: a generated Table tells it how to decode, call and
// encode each request type.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"
)

// ErrServerClosed is returned by Serve and Start after Close.
var ErrServerClosed = errors.New("server: closed")

// Options configure a Server. Zero values pick documented defaults.
type Options struct {
	SocketPath         string                                         // Unix socket path, for Start
	Logger             *slog.Logger                                   // nil: slog.Default()
	MaxConns           int                                            // concurrent connections; 0: default; extras are refused
	IdleTimeout        time.Duration                                  // close a connection idle this long between requests; 0: default; <0: none
	MaxPayload         uint32                                         // largest accepted request payload; 0: ipc.MaxPayloadSize
	StreamSendTimeout  time.Duration                                  // longest a stream Send may block on a slow reader; 0: default
	Authorize          func(ctx context.Context, peer PeerCred) error // nil: allow all; an error refuses the connection
	UnaryInterceptors  []UnaryInterceptor                             // outermost first
	StreamInterceptors []StreamInterceptor                            // outermost first
}

// PeerCred are the credentials of the process on the other end of a
// connection (SO_PEERCRED on Linux).
type PeerCred struct {
	UID, GID uint32
	PID      int32
}

// PeerFromContext returns the peer credentials of the connection a handler's
// request arrived on.
func PeerFromContext(ctx context.Context) (PeerCred, bool) {
	panic("runtime/server: PeerFromContext not implemented yet")
}

// Server serves one Table on Unix sockets.
type Server struct {
	// fields private to the runtime
}

// New returns a server that answers table's requests by calling impl, the
// user's handler (the generated glue type-asserts it).
func New(opts Options, table *Table, impl any) (*Server, error) {
	panic("runtime/server: New not implemented yet")
}

// Start listens on Options.SocketPath and accepts connections in the background.
func (s *Server) Start() error { panic("runtime/server: Start not implemented yet") }

// Serve accepts connections on l until Close; it returns ErrServerClosed then.
func (s *Server) Serve(l net.Listener) error { panic("runtime/server: Serve not implemented yet") }

// Close stops accepting, cancels streams, waits for in-flight unary calls and
// removes the socket file; it returns ctx.Err() if they did not finish in time.
func (s *Server) Close(ctx context.Context) error { panic("runtime/server: Close not implemented yet") }
