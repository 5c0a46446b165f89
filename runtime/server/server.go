// Package server is the Unix-socket server that generated packages plug into.
// It is protocol-agnostic: a generated Table, built from the generic
// constructors Unary and Streaming closed over the user's typed handler,
// tells it how to decode, call and encode each request type; decoding,
// interceptors, nil-response defaults, error fields and the outgoing limit
// checks run here.
//
// A connection carries request/response exchanges until a streaming request
// dedicates it to a stream; on a connection that negotiated the extension
// feature "mux" (mux.go), streams run beside its calls instead, each on a
// handler goroutine, and the connection is never dedicated. Requests on one connection are served
// concurrently; every response carries its request's seq. Unknown request
// types and undecodable payloads are answered with Table.ErrorResponse and the
// connection is kept; framing errors (bad magic, version or an oversized
// length) close it. An answer over the schema's limits is not sent: the
// request gets the error response naming the field and the limit.
//
// Who does what on a connection, and what a peer can make it hold, is on
// one page: the Goroutines section at the top of conn.go. In short: one
// reader goroutine per connection, a handler goroutine per call (or the
// reader itself for a call of a method whose calls are fast, MaxInlineCall,
// the answers to what it read together going out in one write), a
// coalescing writer (ipc.BatchWriter) with a flush
// goroutine for a stream's frames, and three budgets with defaults:
// MaxCallsPerConn (64) calls in flight per connection, every path counted;
// MaxRequestBytesPerConn (4 MiB) request bytes held per connection, over
// which the connection is not read (backpressure, not buffering);
// MaxStreams (256) streams per server, and MaxStreamsPerConn (16) on a mux
// connection. While a stream occupies a connection without mux no request
// is read. Every write has its own deadline (WriteTimeout, or
// StreamSendTimeout for stream frames), armed once when it begins: a peer
// that does not read is dropped one timeout after its first blocked write.
//
// A server listens on its own socket (Options.SocketPath) or serves sockets
// it was given, such as those a service manager passed at start
// (Options.Listeners, ActivationListeners: systemd socket activation).
//
// Handlers run with a context that carries the peer's credentials
// (PeerFromContext) and is cancelled when their connection ends: the client
// went away, a framing or write error dropped it, or Close gave up waiting.
// Close itself does not cancel unary calls; it cancels streams. On a
// connection that negotiated the extensions (control.go, envelope.go, and
// docs/wire.md) a call also carries its client's deadline and metadata
// (Metadata), and a client that cancels a call ends its handler's context;
// the base protocol has no per-call cancellation, so there a client
// abandoning one call does not cancel its handler.
//
// A handler error answers its call. On an extended connection the answer
// is an error frame with the error's code (status.CodeOf), message and
// details, and a response the handler returned beside the error is not
// sent: a call has one answer. On a legacy connection the error goes in
// the response's error field (UnaryCall.SetError) of the handler's
// response, or of a new one, or in Table.ErrorResponse.
//
// Generated code checks its runtime with
//
//	const _ = server.SupportPackageIsVersion2
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// SupportPackageIsVersion2 is referenced by generated code: a generated
// package compiled against a runtime that lacks it fails to build, instead
// of misbehaving at run time. Version 2: tables built by Unary and
// Streaming, options as OptionsFor.
const SupportPackageIsVersion2 = true

// ErrServerClosed is returned by Serve and Start after Close.
var ErrServerClosed = errors.New("server: closed")

// Defaults for zero Options fields.
const (
	DefaultMaxConns               = 1024
	DefaultIdleTimeout            = 5 * time.Minute
	DefaultStreamSendTimeout      = 10 * time.Second
	DefaultWriteTimeout           = 10 * time.Second
	DefaultMaxCallsPerConn        = 64
	DefaultMaxRequestBytesPerConn = 4 << 20
	DefaultMaxStreams             = 256
	DefaultMaxStreamsPerConn      = 16
	DefaultMaxInlineCall          = 50 * time.Microsecond
)

// OptionsFor configure a Server. Zero values pick the documented defaults.
// H is the type of Handler: a generated package aliases OptionsFor[its
// Handler] as its ServerOptions and builds its Table from Handler; New
// itself never looks at Handler. Options is the form for hand-built tables.
type OptionsFor[H any] struct {
	// SocketPath is where Start listens; its directory is created with mode 0700.
	// With Listeners it only names the socket in logs.
	SocketPath string
	// Listeners, when not empty, are what Start serves instead of binding
	// SocketPath: typically the sockets a service manager passed
	// (ActivationListeners). The server did not create their socket files,
	// so it neither checks, chmods nor removes them: their directory,
	// owner and mode are the service manager's (SocketMode=, SocketUser=,
	// SocketGroup=, DirectoryMode= of a systemd socket unit), and Close
	// only closes the listeners. Start logs a warning for a socket file
	// every user may connect to (mode o+w).
	Listeners []net.Listener
	// Handler answers the calls (generated NewServer: required).
	Handler H
	// Logger receives the server's structured logs; nil: slog.Default().
	Logger *slog.Logger
	// MaxConns bounds concurrent connections; extras are refused.
	// 0: DefaultMaxConns.
	MaxConns int
	// IdleTimeout closes a connection idle this long between requests.
	// 0: DefaultIdleTimeout; < 0: never.
	IdleTimeout time.Duration
	// MaxPayload is the largest accepted request payload.
	// 0: ipc.MaxPayloadSize (16 MiB).
	MaxPayload uint32
	// WriteTimeout bounds each write of an answer: a write still blocked this
	// long after it began (the peer does not read) fails and the connection
	// is closed. 0: DefaultWriteTimeout; < 0: none.
	WriteTimeout time.Duration
	// StreamSendTimeout is WriteTimeout for the frames of a stream that
	// has its connection to itself (no mux); a mux connection's streams
	// share its writes with its calls, under WriteTimeout.
	// 0: DefaultStreamSendTimeout.
	StreamSendTimeout time.Duration
	// MaxCallsPerConn bounds the calls one connection has in flight: unary
	// calls, unknown requests and its stream alike, each holding one handler
	// goroutine until its answer is written. At the limit the connection
	// reads nothing until a call ends. 0: DefaultMaxCallsPerConn.
	MaxCallsPerConn int
	// MaxRequestBytesPerConn bounds the request payload bytes one
	// connection's calls hold, counted from the request's header until the
	// call ends (a stream gives its bytes back once its request is decoded).
	// When a request would exceed it, the connection reads nothing until
	// calls end; a single request larger than it is admitted alone.
	// 0: DefaultMaxRequestBytesPerConn.
	MaxRequestBytesPerConn int64
	// MaxStreams bounds the streams open at once on the server; a stream
	// request over it is answered with the error response.
	// 0: DefaultMaxStreams.
	MaxStreams int
	// MaxStreamsPerConn bounds the streams open at once on one connection
	// that multiplexes them (the extension feature "mux": streams share the
	// client's connection with its calls, see mux.go); a stream request
	// over it is answered with an error frame ResourceExhausted and the
	// connection goes on. Each such stream also holds one of
	// MaxCallsPerConn and one of MaxStreams while it runs. A connection
	// without mux carries one stream at most. 0: DefaultMaxStreamsPerConn.
	MaxStreamsPerConn int
	// MaxInlineCall is the handler time under which the connection's reader
	// may serve a call itself instead of handing it to a handler goroutine
	// (see "Inline calls" in conn.go): a method qualifies after
	// 8 calls in a row that each took at most this long, and loses it with
	// the first call that takes longer (a hiccup after 64 fast calls in a
	// row: one fast call qualifies it again). While a call runs
	// inline the connection reads nothing, so a request sent meanwhile waits
	// for it, and the answers of the calls served inline wait until the
	// reader has served what it read (at most MaxCallsPerConn of them).
	// 0: DefaultMaxInlineCall; < 0: never inline (every call on a
	// handler goroutine, e.g. for handlers that may block until the client
	// goes away).
	MaxInlineCall time.Duration
	// Authorize, when set, is asked about every new connection; an error
	// refuses it.
	Authorize func(ctx context.Context, peer PeerCred) error
	// Access, when set, decides every call whose method names an access
	// level (Method.Access: the schema's access:): a peer it refuses gets
	// a PermissionDenied error for that call (the error text on a legacy
	// connection, in the call's error field or the error response), the
	// connection stays usable, and the refusal is logged (Warn; grants at
	// Debug). Calls without an access level are not asked about. Nil:
	// access levels are not enforced. AccessPolicy is one.
	Access func(ctx context.Context, peer PeerCred, level string) bool
	// UnaryInterceptors wrap every unary call, outermost first.
	UnaryInterceptors []UnaryInterceptor
	// StreamInterceptors wrap every streaming call, outermost first.
	StreamInterceptors []StreamInterceptor
	// Legacy makes the server speak the base protocol only, as a server
	// before the extensions did (and a cliwrap manager does): a hello is an
	// unknown request type, so clients fall back. For tests of that
	// fallback, and for a deployment that must not negotiate.
	Legacy bool
}

// Options configure a Server serving a hand-built Table.
type Options = OptionsFor[struct{}]

// config is a server's options with the defaults applied.
type config struct {
	socketPath        string
	listeners         []net.Listener
	maxConns          int
	idleTimeout       time.Duration
	maxPayload        uint32
	writeTimeout      time.Duration
	streamSendTimeout time.Duration
	maxCalls          int
	maxBytes          int64
	maxStreams        int
	maxConnStreams    int
	maxInline         time.Duration // < 0: never inline
	authorize         func(ctx context.Context, peer PeerCred) error
	legacy            bool
}

func newConfig[H any](o *OptionsFor[H]) config {
	c := config{
		socketPath:        o.SocketPath,
		listeners:         slices.Clone(o.Listeners),
		maxConns:          positive(o.MaxConns, DefaultMaxConns),
		idleTimeout:       o.IdleTimeout,
		maxPayload:        o.MaxPayload,
		writeTimeout:      o.WriteTimeout,
		streamSendTimeout: positive(o.StreamSendTimeout, DefaultStreamSendTimeout),
		maxCalls:          positive(o.MaxCallsPerConn, DefaultMaxCallsPerConn),
		maxBytes:          positive(o.MaxRequestBytesPerConn, DefaultMaxRequestBytesPerConn),
		maxStreams:        positive(o.MaxStreams, DefaultMaxStreams),
		maxConnStreams:    positive(o.MaxStreamsPerConn, DefaultMaxStreamsPerConn),
		maxInline:         o.MaxInlineCall,
		authorize:         o.Authorize,
		legacy:            o.Legacy,
	}
	if c.idleTimeout == 0 {
		c.idleTimeout = DefaultIdleTimeout
	}
	if c.writeTimeout == 0 {
		c.writeTimeout = DefaultWriteTimeout
	}
	if c.maxInline == 0 {
		c.maxInline = DefaultMaxInlineCall
	}
	if c.maxPayload == 0 || c.maxPayload > ipc.MaxPayloadSize {
		c.maxPayload = ipc.MaxPayloadSize
	}
	return c
}

func positive[T int | int64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// PeerCred are the credentials of the process on the other end of a
// connection (SO_PEERCRED on Linux), as they were when it connected.
type PeerCred struct {
	UID, GID uint32
	PID      int32
}

type peerKey struct{}

type groupsKey struct{}

// PeerGroupsFromContext returns the supplementary groups of the peer whose
// request a handler serves, as they were when it connected (SO_PEERGROUPS,
// Linux 4.13+); nil when they are unknown.
func PeerGroupsFromContext(ctx context.Context) []uint32 {
	g, _ := ctx.Value(groupsKey{}).([]uint32)
	return g
}

// PeerFromContext returns the peer credentials of the connection a handler's
// request arrived on. ok is false outside a handler, or where the platform
// does not report peer credentials.
func PeerFromContext(ctx context.Context) (PeerCred, bool) {
	p, ok := ctx.Value(peerKey{}).(PeerCred)
	return p, ok
}

// Server serves one Table on Unix sockets.
type Server struct {
	cfg     config
	table   *Table
	log     *slog.Logger
	methods [256]*method

	shutdown atomic.Bool  // Close has begun
	streams  atomic.Int64 // open streams

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	serving   sync.WaitGroup // Serve loops
	conns     map[*conn]struct{}
	drained   chan struct{} // closed when Close began and no connection is left
	sock      *socketFile   // the socket Start created, removed by Close
	refused   refuser       // connections over MaxConns being answered "server full"
	done      chan struct{} // closed by Close: wakes accept backoff
}

// New returns a server that answers table's requests; a generated package's
// table is closed over the user's typed handler (opts.Handler is not used
// here). It checks the table: every method was built by Unary or Streaming,
// request types are unique.
func New[H any](opts OptionsFor[H], table *Table) (*Server, error) {
	if table == nil {
		return nil, errors.New("server: nil table")
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Server{
		cfg:       newConfig(&opts),
		table:     table,
		log:       log,
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*conn]struct{}),
		done:      make(chan struct{}),
	}
	unaryInts, streamInts := opts.UnaryInterceptors, opts.StreamInterceptors
	if opts.Access != nil { // outermost: a refused call reaches no interceptor
		a := &accessChecker{allow: opts.Access, log: log}
		unaryInts = append([]UnaryInterceptor{a.unary}, unaryInts...)
		streamInts = append([]StreamInterceptor{a.stream}, streamInts...)
	}
	unary := chainUnary(unaryInts)
	stream := chainStream(streamInts)
	for i := range table.Methods {
		m := &table.Methods[i]
		if (m.unary == nil) == (m.stream == nil) {
			return nil, fmt.Errorf("server: method %q: not built by server.Unary or server.Streaming", m.Name)
		}
		if s.methods[m.Request] != nil {
			return nil, fmt.Errorf("server: methods %q and %q share request type %s",
				s.methods[m.Request].Name, m.Name, m.Request)
		}
		if ipc.IsReserved(m.Request) {
			return nil, fmt.Errorf("server: method %q: request type %s is in the runtime's reserved block 0xf0..0xff", m.Name, m.Request)
		}
		s.methods[m.Request] = newMethod(m, table.Protocol, unary, stream)
	}
	if !s.cfg.legacy {
		for _, m := range controlMethods(s) {
			s.methods[m.Request] = newMethod(&m, table.Protocol, nil, nil)
		}
	}
	return s, nil
}

// acquireStream takes one of the server's MaxStreams; false: none is free.
func (s *Server) acquireStream() bool {
	if s.streams.Add(1) > int64(s.cfg.maxStreams) {
		s.streams.Add(-1)
		s.log.Warn("server: stream refused: too many streams", "protocol", s.table.Protocol, "max_streams", s.cfg.maxStreams)
		return false
	}
	return true
}

func (s *Server) releaseStream() { s.streams.Add(-1) }

// Start listens on Options.SocketPath and accepts connections in the
// background. It creates the socket's directory with mode 0700 if missing
// and makes the socket 0600. It refuses to start when a live server answers
// on the path (the error names it) and replaces a stale socket file.
//
// With Options.Listeners, Start serves those instead and touches no file
// (see Listeners). Connections already queued on an inherited socket are
// accepted like any other: the first call a service manager's socket
// received before the server started is answered.
func (s *Server) Start() error {
	if s.shutdown.Load() {
		return ErrServerClosed
	}
	if len(s.cfg.listeners) > 0 {
		return s.startInherited()
	}
	l, sock, err := listenUnix(s.cfg.socketPath)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.shutdown.Load() {
		s.mu.Unlock()
		l.Close()
		sock.remove()
		return ErrServerClosed
	}
	s.sock = sock
	s.mu.Unlock()
	ready := make(chan struct{})
	go func() {
		close(ready)
		if err := s.Serve(l); err != nil && !errors.Is(err, ErrServerClosed) {
			s.log.Error("server: serve stopped", "protocol", s.table.Protocol, "socket", s.cfg.socketPath, "err", err)
		}
	}()
	<-ready
	return nil
}

// startInherited serves Options.Listeners.
func (s *Server) startInherited() error {
	for i, l := range s.cfg.listeners {
		if l == nil {
			return fmt.Errorf("server: Options.Listeners[%d] is nil", i)
		}
	}
	for _, l := range s.cfg.listeners {
		warnOpenSocket(s.log, l)
		go func() {
			if err := s.Serve(l); err != nil && !errors.Is(err, ErrServerClosed) {
				s.log.Error("server: serve stopped", "protocol", s.table.Protocol, "socket", l.Addr().String(), "err", err)
			}
		}()
	}
	return nil
}

// warnOpenSocket logs a warning when l's socket file lets every user connect.
func warnOpenSocket(log *slog.Logger, l net.Listener) {
	addr, ok := l.Addr().(*net.UnixAddr)
	if !ok || addr.Name == "" || addr.Name[0] == '@' {
		return
	}
	if info, err := os.Stat(addr.Name); err == nil && info.Mode().Perm()&0o002 != 0 {
		log.Warn("server: inherited socket is open to every user; set SocketMode= (e.g. 0600 or 0660) in its socket unit",
			"socket", addr.Name, "mode", fmt.Sprintf("%#o", info.Mode().Perm()))
	}
}

// Serve accepts connections on l until Close; it returns ErrServerClosed
// then, or the error that stopped accepting. Temporary accept errors (such as
// running out of file descriptors) are retried with a growing pause.
func (s *Server) Serve(l net.Listener) error {
	if !s.trackListener(l, true) {
		if l != nil {
			l.Close()
		}
		return ErrServerClosed
	}
	defer s.trackListener(l, false)
	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.shutdown.Load() {
				return ErrServerClosed
			}
			if !temporary(err) {
				return fmt.Errorf("server: accept: %w", err)
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("server: accept failed; retrying", "err", err, "delay", backoff)
			select {
			case <-time.After(backoff):
			case <-s.done:
			}
			continue
		}
		backoff = 0
		s.accepted(nc)
	}
}

func temporary(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.EINTR} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (s *Server) trackListener(l net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.listeners, l)
		s.serving.Done()
		return true
	}
	if s.shutdown.Load() {
		return false
	}
	s.listeners[l] = struct{}{}
	s.serving.Add(1)
	return true
}

// accepted registers nc, or refuses it when the server is full or closing.
func (s *Server) accepted(nc net.Conn) {
	s.mu.Lock()
	if s.shutdown.Load() {
		s.mu.Unlock()
		nc.Close()
		return
	}
	if len(s.conns) >= s.cfg.maxConns {
		s.mu.Unlock()
		s.log.Warn("server: connection refused: too many connections", "protocol", s.table.Protocol, "max_conns", s.cfg.maxConns)
		s.refused.refuse(s, nc)
		return
	}
	c := newConn(s, nc)
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	go c.serve()
}

// forget removes a finished connection.
func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	if len(s.conns) == 0 && s.drained != nil {
		close(s.drained)
		s.drained = nil
	}
	s.mu.Unlock()
}

// Close shuts the server down gracefully, in the manner of net/http's
// Server.Shutdown:
//
//   - it closes every listener, so Serve returns ErrServerClosed, and removes
//     the socket file Start created (never a file another server has since
//     put at the path);
//   - it cancels the context of every active stream: stream handlers are
//     expected to return, and their connections are closed;
//   - it lets in-flight unary calls run to completion (their contexts are not
//     cancelled), writes their responses, and closes each connection as soon
//     as it has no call in flight; requests that arrive after Close began are
//     not served;
//   - it closes idle connections at once.
//
// Close returns nil once every connection is closed and every handler has
// returned. If ctx ends first, Close closes the remaining connections
// (cancelling their handlers' contexts) and returns ctx.Err() without
// waiting for those handlers. Calling Close again waits again.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	if !s.shutdown.Swap(true) {
		close(s.done)
	}
	for l := range s.listeners {
		l.Close()
		delete(s.listeners, l)
	}
	if s.sock != nil {
		s.sock.remove()
		s.sock = nil
	}
	var drained chan struct{}
	if len(s.conns) > 0 {
		if s.drained == nil {
			s.drained = make(chan struct{})
		}
		drained = s.drained
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.beginShutdown()
	}
	s.serving.Wait() // accept loops end at once: their listeners are closed
	s.refused.closeAll()
	if drained == nil {
		return nil
	}
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
		for _, c := range conns {
			c.abort()
		}
		return ctx.Err()
	}
}

// socketFile is the socket Start created; remove deletes it only while it is
// still the same file.
type socketFile struct {
	path string
	info os.FileInfo
}

func (f *socketFile) remove() {
	if cur, err := os.Lstat(f.path); err == nil && os.SameFile(cur, f.info) {
		os.Remove(f.path)
	}
}
