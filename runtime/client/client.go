// Package client is the connection that generated clients are built on: dial,
// concurrent calls matched by seq on one connection, and streams multiplexed
// on it beside the calls when the server agrees (the extension feature
// "mux", mux.go), else each on a connection of its own.
//
// # Goroutines
//
// A Conn has two roles, reading and writing its socket. Each is held by at
// most one goroutine at a time, and only the holder touches that side of the
// socket. Callers hold them: a lone caller writes its request and reads its
// answer in its own goroutine, with no hand-off to another goroutine, which
// is what a round trip on a Unix socket spends most of its time on otherwise.
//
//   - Reading role (read.go; owns the read buffer and the frame being read,
//     Conn.cur). Taken by a caller waiting for its answer when no one holds
//     it (a caller that wrote its own request takes it as it lets the
//     writing role go, in the same critical section). The holder reads
//     frames, keeps its own answer and hands every other
//     answer to its caller over that call's channel. It gives the role up
//     only when its own answer is complete or its context ended, and passes
//     it, together with a partly read frame if there is one, to the call that
//     frame answers, else to any pending call, else to a mux stream's Recv
//     waiting for a frame. While calls are pending one of them holds the
//     role; with none pending and no mux stream open, nobody reads.
//   - Mux streams (mux.go): a frame whose seq is a mux stream's goes
//     straight to that stream's Recv when it is the holder, else into the
//     stream's queue (bounded: StreamQueueFrames, StreamQueueBytes), which
//     lives in the Stream and which its Recv drains. A Recv whose queue is
//     empty takes the role when it is free, as a waiting call does, and
//     else waits for a frame or for the role. While a mux stream is open
//     and nobody waits, the drain goroutine holds the role, from drainDelay
//     (10 ms; at most twice that) after the last holder let it go; a Recv that starts waiting
//     while it reads wakes it, and it hands that Recv the role at the end
//     of the frame in progress. Flow control:
//     the stream's request carries its first StreamCredit (the whole
//     queue) in the same write, and the Recv that consumes half of the
//     window sends a StreamCredit giving it back: itself when nobody
//     writes and the socket takes it at once, else behind the writer (as
//     a Cancel is: the flush goroutine writes it when nobody writes); so
//     a server that honours credit never fills the queue.
//   - Writing role (write.go; owns the socket's write side). Taken by a
//     caller whose request finds it free: it writes its own frame at once,
//     uncopied. Callers finding it taken copy their frame into the queue,
//     which keeps seq order, and go on to wait for their answers; the holder
//     then writes everything queued, one Write per batch, for at most
//     writerTurns batches, and hands what is still queued to the flush
//     goroutine. A mux stream's Recv giving credit back takes it too when
//     it is free, for one write that does not wait (what the socket does
//     not take at once goes to the flush goroutine).
//
// A Conn dialled with Options.Negotiate writes its hello (seq 0) ahead of
// its first request; whoever holds the reading role takes the hello's answer
// in passing (ext.go): the hello's pending call never takes the role. A call
// whose context is cancelled on an extended connection queues a Cancel
// behind the writer (envelope.go) and returns; the writing role's holder, or
// a flush goroutine it starts when the role is free, writes it.
//
// Goroutines a Conn starts:
//
//   - flush (write.go): started by a writer that leaves frames queued after
//     its turns; holds the writing role and writes batches until the queue is
//     empty, then ends. At most one per Conn; a write error breaks the Conn,
//     and closing the Conn makes a blocked write fail, so it never outlives
//     the Conn by more than one failed write.
//   - context.AfterFunc callbacks, only for a role holder whose context can
//     end: they mark the call and set a deadline in the past on the socket
//     to wake the holder's blocked read or write, and return at once.
//   - a Stream's context.AfterFunc: closes the stream's own connection when
//     OpenStream's context ends; for a mux stream, drops its queue,
//     queues its Cancel and wakes its Recv if that holds the reading role
//     (Close does the same in its caller), so a mux Recv's turn as reader
//     registers no AfterFunc of its own.
//   - drain (mux.go): started by passRole when it finds nobody to take the
//     reading role while a frame is half read on a Conn that had mux
//     streams, or by the drain timer that passRole arms when it finds
//     nobody to take it while mux streams are open (drainDelay after the
//     role was last let go at the earliest, twice that at the latest, if
//     nobody holds it then: armed once, the timer re-arms itself for
//     another drainDelay when it fires and the role was let go again
//     meanwhile, so a followed stream resets it about once
//     per drainDelay, not once per frame; the timer's own goroutine
//     becomes the drain goroutine); holds the role and reads, queueing the
//     streams' frames and handing calls their answers, until no stream is
//     open and no frame is in progress, or, between frames, a call or a
//     mux stream's Recv waits to read, then passes the role on as any
//     holder does. At most one per Conn; it ends with the Conn (a failed
//     read) at the latest.
//
// A Redialer (redial.go) starts none: a call that needs a new connection
// dials it in its own goroutine, and the others wait for it.
//
// # Budgets (Options, with defaults)
//
//   - MaxPendingCalls (DefaultMaxPendingCalls, 1024): calls in flight on one
//     Conn. A call beyond it waits, bounded by its context, for a slot.
//   - MaxQueuedBytes (DefaultMaxQueuedBytes, 1 MiB): request bytes queued
//     behind the writer. A request that does not fit waits, bounded by its
//     context, for the queue to drain (backpressure from a server that does
//     not read); a larger request waits for the writer to be free and is
//     then written directly. Queue and the batch in flight: at most twice
//     this.
//   - StreamQueueFrames (256) and StreamQueueBytes (1 MiB): a mux stream's
//     window (granted to the server in StreamCredit frames), and the bound
//     of the frames queued for its Recv: a frame is queued while fewer
//     frames and bytes are (so at most the window plus one frame, and the
//     stream's end); a frame past them (a server ignoring credit) ends
//     that stream alone with ResourceExhausted. An open mux stream counts
//     in MaxPendingCalls.
//   - MaxPayload (ipc.MaxPayloadSize, 16 MiB): largest response accepted,
//     checked before anything is allocated. The body being read grows as its
//     bytes arrive; a late answer to a call that gave up is discarded through
//     the Conn's 16 KiB read buffer, never stored.
//
// # Deadlines, and poisoning
//
// A call returns at once when its context ends. If the connection is then
// in the middle of a frame the call may need (a response header, whichever
// call it answers; the body of the call's own answer) and no more of that
// frame is available right now, or the call was writing and part of its
// write went out, the connection cannot be resynchronised: it is poisoned.
// (A write interrupted before any byte went out goes back to the head of
// the queue instead.) It is closed, every
// pending call fails promptly with a *ConnError whose cause is a
// *StallError saying which call's context ended where, and every later call
// fails at once. A call whose answer has not started withdraws, and its
// late answer is discarded. A reader whose context ends in the middle of
// another call's answer passes the role and the partial frame to that call,
// which carries on (and decides by its own context).
//
// A Conn never redials (a Redialer, which generated clients hold, does:
// see redial.go for its rules). Once its connection breaks (the server closed it, a
// read or write failed, the Conn was poisoned, or Close was called) every
// pending call fails promptly with an error reading "client: connection
// closed: <cause>", and every later call fails at once with the same error;
// dial a new Conn to go on.
//
// Generated code checks its runtime with
//
//	const _ = client.SupportPackageIsVersion1
package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// SupportPackageIsVersion1 is referenced by generated clients: compiled
// against a runtime that lacks it, they fail to build.
const SupportPackageIsVersion1 = true

// Defaults of Options.
const (
	DefaultDialTimeout     = 5 * time.Second // Options.DialTimeout
	DefaultMaxPendingCalls = 1024            // Options.MaxPendingCalls
	DefaultMaxQueuedBytes  = 1 << 20         // Options.MaxQueuedBytes
)

// readBufferSize is the read buffer of a Conn: a small frame costs one read.
const readBufferSize = 16 << 10

// Options configure a Conn. Zero values pick documented defaults.
type Options struct {
	MaxPayload      uint32        // largest accepted response payload; 0: ipc.MaxPayloadSize
	DialTimeout     time.Duration // 0: DefaultDialTimeout; DialContext's ctx also bounds it
	MaxPendingCalls int           // calls in flight per Conn; 0: DefaultMaxPendingCalls
	MaxQueuedBytes  int           // request bytes queued behind the writer; 0: DefaultMaxQueuedBytes
	// ServerUID is the uid the server must run as, besides root; nil: the
	// client's own uid. Dial checks it (SO_PEERCRED, on Linux) and fails
	// with a *ServerUIDError naming the socket's owner otherwise.
	ServerUID *uint32
	// Dial, when set, makes the connection instead of dialing the Unix
	// socket at path, which then only names the server in errors (e.g. an
	// ssh:// address: the mgmtctl and mgmtgen commands pass one that runs
	// the system ssh). It is bounded by DialContext's ctx and DialTimeout,
	// and used for every connection: redials and streams too. ServerUID is
	// checked on Unix sockets only: a connection Dial returns is taken as
	// it is (over ssh, ssh checks the host key and the login).
	Dial func(ctx context.Context, path string) (net.Conn, error)
	// NoRedial turns a Redialer's redialing off (see redial.go): its first
	// connection is the only one. A Conn never redials.
	NoRedial           bool
	UnaryInterceptors  []UnaryInterceptor
	StreamInterceptors []StreamInterceptor

	// ErrorText recognises the protocol's error response (e.g. a
	// StatusResponse with Err set answering a request the server does not
	// know): when a unary call gets a response of another type than it
	// expects and ErrorText returns ok, the call fails with a *RemoteError
	// carrying text instead of a *ResponseTypeError. Generated clients set it.
	ErrorText func(t ipc.MsgType, body []byte) (text string, ok bool)

	// Negotiate opens the connection with a hello and speaks the
	// extensions (docs/wire.md) when the server answers it; a legacy server
	// is detected and the Conn falls back silently (see ext.go). Without it
	// the Conn speaks the base protocol only, byte for byte as cliwrap's
	// client. Generated clients set it unless Legacy is set.
	Negotiate bool
	// Legacy: never negotiate, whatever Negotiate says.
	Legacy bool

	// StreamQueueFrames and StreamQueueBytes are the window of a stream
	// multiplexed on the Conn (feature "mux", mux.go): what the server may
	// send it ahead of its Recv (flow control, docs/wire.md), and the bound
	// of what it keeps queued: a frame that comes when either is reached
	// (a server that ignores the window) ends that stream alone, its Recv
	// returning a ResourceExhausted error. 0: DefaultStreamQueueFrames
	// (256), DefaultStreamQueueBytes (1 MiB).
	StreamQueueFrames int
	StreamQueueBytes  int
}

func (o *Options) setDefaults() {
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.MaxPendingCalls <= 0 {
		o.MaxPendingCalls = DefaultMaxPendingCalls
	}
	if o.MaxQueuedBytes <= 0 {
		o.MaxQueuedBytes = DefaultMaxQueuedBytes
	}
	if o.StreamQueueFrames <= 0 {
		o.StreamQueueFrames = DefaultStreamQueueFrames
	}
	if o.StreamQueueBytes <= 0 {
		o.StreamQueueBytes = DefaultStreamQueueBytes
	}
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

// ConnError is the error of every call on a broken connection; it matches
// ErrClosed and unwraps to the cause (a *GoneError when the server closed
// the connection, a *StallError when a context ended mid-frame). Its text
// names Path, the socket as the caller gave it: "client: connection
// closed: PATH: cause", or, when the cause names it already (a
// *GoneError does), "client: connection closed: cause".
type ConnError struct {
	Path  string
	Cause error
}

func (e *ConnError) Error() string {
	cause := e.Cause.Error()
	if e.Path == "" || strings.Contains(cause, e.Path) {
		return ErrClosed.Error() + ": " + cause
	}
	return ErrClosed.Error() + ": " + e.Path + ": " + cause
}

func (e *ConnError) Unwrap() error        { return e.Cause }
func (e *ConnError) Is(target error) bool { return target == ErrClosed }

// StallError is why a Conn was poisoned: the context of call Method ended
// (Err) Waited after the call began, while the connection was in the
// middle of a frame: Done of that part's Size bytes had been transferred
// and no more was at hand. It reports what was measured; whether the
// server stalled or the rest was merely slow to come, nobody can tell.
type StallError struct {
	Method  string        // the call whose context ended, e.g. "Status"
	Err     error         // that context's error
	Waited  time.Duration // from the call's start until its context ended
	Timeout time.Duration // the context's deadline, from the call's start; 0: none
	Part    string        // "response header", "response body" or "request write"
	Done    int           // bytes of that part transferred
	Size    int           // bytes of that part in all
}

func (e *StallError) Error() string {
	wait := "after waiting " + roundWait(e.Waited)
	if e.Timeout > 0 {
		wait += " (timeout " + roundWait(e.Timeout) + ")"
	}
	if e.Part == partWrite {
		return fmt.Sprintf("%s: %v %s, with %d of %d request bytes written and the server taking no more",
			e.Method, e.Err, wait, e.Done, e.Size)
	}
	return fmt.Sprintf("%s: %v %s, with %d of the %d bytes of a %s received and no more at hand",
		e.Method, e.Err, wait, e.Done, e.Size, e.Part)
}

// roundWait rounds d for an error text: to the millisecond from 1 ms on.
func roundWait(d time.Duration) string {
	if d >= time.Millisecond {
		d = d.Round(time.Millisecond)
	}
	return d.String()
}

// stallOf starts the StallError of call cl whose context ctx ended.
func stallOf(cl *call, ctx context.Context) *StallError {
	se := &StallError{Method: cl.name, Err: ctxErr(ctx), Waited: time.Since(cl.start)}
	if dl, ok := ctx.Deadline(); ok {
		se.Timeout = dl.Sub(cl.start)
	}
	return se
}

// Parts of a frame a StallError names.
const (
	partHeader = "response header"
	partBody   = "response body"
	partWrite  = "request write"
)

// ctxConnError is the error of a call whose context ended when the
// connection broke (its end may be what broke it): it matches the
// context's error and the connection's, and reads as the latter.
type ctxConnError struct {
	ctxErr error
	conn   error
}

func (e *ctxConnError) Error() string   { return e.conn.Error() }
func (e *ctxConnError) Unwrap() []error { return []error{e.ctxErr, e.conn} }

// Conn is one client connection; safe for concurrent use. Requests are
// numbered 1, 2, 3, ... and written in that order; responses are matched to
// calls by seq, in whatever order they arrive. Who does the reading and
// writing is described in the package doc ("Goroutines"). A Conn does not
// redial.
type Conn struct {
	path   string
	opts   Options
	nc     net.Conn
	raw    syscall.RawConn // for reads that must not wait; nil when nc has none
	unary  UnaryInterceptor
	stream StreamInterceptor

	// The hello (ext.go): hcall is its pending call (seq 0) until its
	// answer is read; state says what the answer said; helloDone is closed
	// once it is known (or the connection broke).
	hcall     *call
	helloMsg  []byte // the hello frame, until the first request carries it
	state     atomic.Int32
	helloDone chan struct{}
	features  []string // written before helloDone closes
	// server is who answers on this connection, if known; presumed says
	// it acknowledged a hello on another connection lately (ext.go),
	// speculated that a call sent a CallHeader before this connection's
	// hello was answered. server and presumed are set before the first
	// request, read-only after.
	server     serverID
	presumed   bool
	speculated atomic.Bool

	// Owned by the goroutine holding the reading role (read.go).
	br     *bufio.Reader
	cur    frameState
	leader *call // the caller holding the role; nil on a stream's connection
	sframe call  // the target of every frame on a stream's connection
	dcall  *call // the drain goroutine's, as it holds the role (mux.go)
	// unclaimed is the holder's own call while readFrame reads its answer,
	// whose header it read without taking the call out of the pending set:
	// passRole does.
	unclaimed *call

	draining   atomic.Bool   // the drain goroutine runs
	drainTimer *time.Timer   // starts the drain goroutine (mux.go); under mu
	drainDelay time.Duration // drainDelay (tests lengthen it); under mu
	drainArmed bool          // drainTimer is pending; under mu
	// droppedAgain: the reading role was dropped (streams open) since
	// drainTimer was armed or re-armed; under mu
	droppedAgain bool

	// quit is set by a call that withdrew while someone was reading: if the
	// frame in progress is stalled in its header, that call may be the one
	// it answers, and the connection is poisoned in its name.
	quit atomic.Pointer[StallError]

	mu        sync.Mutex
	seq       uint64
	pending   pendingSet
	streams   map[uint64]*Stream // mux streams open, by seq (mux.go)
	nwaiting  int                // mux streams whose Recv waits (Stream.waiting)
	muxed     bool               // a mux stream was opened: the drain goroutine may finish a frame
	err       error              // why the connection broke; nil while usable
	broken    atomic.Bool        // set with err: a lock-free look (Redialer) at whether it broke
	streaming bool               // dedicated to a stream by Stream
	reading   bool               // someone holds the reading role
	freed     chan struct{}      // closed when a slot or queue space frees; nil: nobody waits

	// The write queue (write.go), also guarded by mu.
	wbusy  bool   // someone holds the writing role
	writer *call  // the caller holding it, while its context may end it
	wq     []byte // frames queued behind the writer, in seq order
	wspare []byte // the other queue buffer
}

// Dial connects to the Unix socket at path.
func Dial(path string, opts Options) (*Conn, error) {
	return DialContext(context.Background(), path, opts)
}

// DialContext connects to the Unix socket at path, bounded by ctx and by
// Options.DialTimeout.
func DialContext(ctx context.Context, path string, opts Options) (*Conn, error) {
	opts.setDefaults()
	nc, err := dialConn(ctx, path, &opts)
	if err != nil {
		return nil, fmt.Errorf("client: dial %s: %w", path, err)
	}
	pid, err := checkServer(nc, path, &opts)
	if err != nil {
		nc.Close()
		return nil, err
	}
	c := newConn(nc, path, opts)
	if opts.Negotiate && !opts.Legacy && !knownLegacy(path) {
		id := serverID{pid: pid}
		if pid != 0 {
			id.dev, id.ino = socketFile(path)
		}
		c.queueHello(id)
	}
	return c, nil
}

// dialConn connects to path, or calls Options.Dial.
func dialConn(ctx context.Context, path string, opts *Options) (net.Conn, error) {
	if opts.Dial == nil {
		d := net.Dialer{Timeout: opts.DialTimeout}
		return d.DialContext(ctx, "unix", path)
	}
	ctx, cancel := context.WithTimeout(ctx, opts.DialTimeout)
	defer cancel()
	return opts.Dial(ctx, path)
}

// newConn makes a Conn on nc, a connected socket; opts has its defaults.
func newConn(nc net.Conn, path string, opts Options) *Conn {
	c := &Conn{
		path:       path,
		opts:       opts,
		nc:         nc,
		unary:      chainUnary(opts.UnaryInterceptors),
		stream:     chainStream(opts.StreamInterceptors),
		streams:    make(map[uint64]*Stream),
		dcall:      &call{ch: make(chan result, 2), name: "drain", abandoned: true},
		drainDelay: drainDelay,
	}
	if sc, ok := nc.(syscall.Conn); ok {
		c.raw, _ = sc.SyscallConn()
	}
	c.br = bufio.NewReaderSize(abortReader{c}, readBufferSize)
	return c
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

// fail breaks the connection (once): every pending call gets the error
// (the sends never block: a pending call's channel holds at most a
// promotion), waiters for a slot wake, and the socket is closed, which
// makes the role holders' blocked reads and writes fail. A call whose
// answer is being read hears it from the reader.
func (c *Conn) fail(cause error) { c.failWrite(cause, nil, 0) }

// failWrite is fail for a write of batch b that got n bytes out (nil: the
// cause is not a write): the calls whose frames no write began get an
// error matching ErrNotSent (unsent.go).
func (c *Conn) failWrite(cause error, b []byte, n int) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = &ConnError{Path: c.path, Cause: describeCause(c.path, cause)}
	c.broken.Store(true)
	if c.drainTimer != nil {
		c.drainTimer.Stop()
		c.drainArmed = false
	}
	unsent := c.firstUnsentLocked(b, n)
	c.pending.all(func(seq uint64, cl *call) {
		if seq >= unsent {
			cl.ch <- result{err: &notSentError{c.err}}
		} else {
			cl.ch <- result{err: c.err}
		}
	})
	c.pending.clear()
	for _, s := range c.streams {
		signal(s.wake) // its Recv sees c.err
	}
	c.freeLocked()
	// The server hung up on a hello it was sent: a legacy server that
	// closes on unknown requests. Any other end (Close, a poisoned or
	// failed write) says nothing about the server.
	var gone *GoneError
	hungUp := c.hcall != nil && c.helloMsg == nil && errors.As(c.err, &gone)
	c.mu.Unlock()
	c.helloGone(hungUp)
	c.nc.Close()
}

// freedLocked returns the channel freeLocked closes, making it if nobody
// waits yet: a caller waits on it after unlocking c.mu.
func (c *Conn) freedLocked() chan struct{} {
	if c.freed == nil {
		c.freed = make(chan struct{})
	}
	return c.freed
}

// freeLocked wakes the callers waiting for a slot or queue space.
func (c *Conn) freeLocked() {
	if c.freed != nil {
		close(c.freed)
		c.freed = nil
	}
}

// usableLocked says why no request can be sent now, if so.
func (c *Conn) usableLocked() error {
	if c.err != nil {
		return c.err
	}
	if c.streaming {
		return errors.New("client: connection is dedicated to a stream")
	}
	return nil
}
