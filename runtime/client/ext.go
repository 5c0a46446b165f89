package client

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/status"
)

// The extensions (docs/wire.md, "Extensions"), client side. A Conn dialled
// with Options.Negotiate sends a hello, seq 0, in the same write as its
// first request, and never waits for it on its own: the request goes in the
// base protocol's form, and the server answers the hello before it reads
// that request, so the hello's answer is the first frame back. Whoever
// holds the reading role then takes it in passing (helloAnswered): a
// HelloAck makes the Conn extended; any other answer (a cliwrap manager's
// "unknown request type 0xf0") leaves it legacy, silently, and the path is
// remembered as legacy for legacyMemory (later dials send no hello); an
// error frame (a server full, or refusing this user) breaks the Conn with
// that *RemoteError. A server that closes the connection on the hello is
// remembered as legacy too: the call in flight fails, the next dial speaks
// the base protocol.
//
// The hello's call is pending (seq 0) like any other but never takes the
// reading role: passRole skips it. A call that must know the answer before
// it sends (waitHello) reads for it itself, bounded by helloTimeout.

// Features are the extension features this client speaks, as its hello
// lists them.
var Features = []string{"errors", "status", "ready", "cancel", "meta", "ping", "describe", "mux"}

// helloTimeout bounds a wait for the hello's answer: a server that has not
// answered by then is taken as legacy. A variable for tests.
var helloTimeout = time.Second

// legacyMemory is how long a path that answered the hello as a legacy
// server stays known as legacy (a server upgraded meanwhile is probed
// again after it).
const legacyMemory = 10 * time.Minute

// legacyPaths maps a socket path to when it was found legacy.
var legacyPaths sync.Map // string -> time.Time

func knownLegacy(path string) bool {
	v, ok := legacyPaths.Load(path)
	if !ok {
		return false
	}
	if time.Since(v.(time.Time)) > legacyMemory {
		legacyPaths.Delete(path)
		return false
	}
	return true
}

func rememberLegacy(path string) {
	legacyPaths.Store(path, time.Now())
	extendedPaths.Delete(path)
}

// extendedMemory is how long a server that acknowledged a hello stays
// known as extended: a new connection to it sends a call's CallHeader
// right behind its hello, without waiting for the answer (presumed).
const extendedMemory = 10 * time.Minute

// serverID names the server behind a socket path: the pid that listens
// (SO_PEERCRED) and the socket file (device, inode). A restarted or
// replaced server, or a new socket file at the path, is another id; the
// zero id (credentials or file unknown, e.g. through Options.Dial) is
// never remembered. Behind socket activation the listening pid is the
// service manager's, so a service restarted on the same socket keeps its
// id: were it replaced by a legacy build within extendedMemory, its first
// connection would break with errNoLongerExtended rather than go wrong.
type serverID struct {
	pid      int32
	dev, ino uint64
}

func (id serverID) known() bool { return id.pid != 0 && id.ino != 0 }

// extendedPaths maps a socket path to the server that acknowledged a hello
// on it, and when.
var extendedPaths sync.Map // string -> extendedEntry

type extendedEntry struct {
	id serverID
	at time.Time
}

func knownExtended(path string, id serverID) bool {
	if !id.known() {
		return false
	}
	v, ok := extendedPaths.Load(path)
	if !ok {
		return false
	}
	e := v.(extendedEntry)
	return e.id == id && time.Since(e.at) <= extendedMemory
}

func rememberExtended(path string, id serverID) {
	if id.known() {
		extendedPaths.Store(path, extendedEntry{id, time.Now()})
	}
}

// errNoLongerExtended breaks a presumed connection whose server answered
// the hello as a legacy one after calls went out with a CallHeader.
type errNoLongerExtended struct{ path string }

func (e *errNoLongerExtended) Error() string {
	return "client: the server at " + e.path + " spoke the extensions on an earlier connection, but answered this one's hello as a legacy server: calls sent meanwhile with a call header may have failed or run; the path now speaks the base protocol"
}

// States of a Conn's negotiation (Conn.state).
const (
	stateBase     = iota // no hello: the base protocol
	stateHello           // hello sent or queued, answer not read yet
	stateExtended        // the server acknowledged the hello
	stateLegacy          // the server answered it otherwise, or never
)

// queueHello prepares the hello for the first request's write; id is the
// server's identity (zero: unknown).
func (c *Conn) queueHello(id serverID) {
	c.server = id
	c.presumed = knownExtended(c.path, id)
	frame, err := ipc.AppendMsgFrame(nil, ipc.Header{MsgType: ipc.MsgHello}, &ipc.Hello{Version: ipc.ExtVersion, Features: Features})
	if err != nil {
		return
	}
	c.hcall = getCall(context.Background(), "hello", time.Now())
	c.hcall.abandoned = true // never recycled: its channel may get the connection's failure
	c.helloMsg = frame
	c.helloDone = make(chan struct{})
	c.pending.put(0, c.hcall)
	c.state.Store(stateHello)
}

// withHello returns frame preceded by the hello if it is still to be sent
// (the first request carries it); c.mu is held.
func (c *Conn) withHelloLocked(frame []byte) []byte {
	if c.helloMsg == nil {
		return frame
	}
	b := append(c.helloMsg, frame...)
	c.helloMsg = nil
	return b
}

// helloAnswered takes the hello's answer, read by the reading role's
// holder.
func (c *Conn) helloAnswered(h ipc.Header, body []byte) {
	switch h.MsgType {
	case ipc.MsgHelloAck:
		var ack ipc.HelloAck
		if err := ipc.DecodePayload(body, &ack); err != nil {
			c.fail(fmt.Errorf("malformed hello answer: %w", err))
			return
		}
		c.features = ack.Features
		rememberExtended(c.path, c.server)
		if !c.helloSettled(stateExtended) {
			// Answered after a waitHello gave up on it: requests sent
			// meanwhile in the base form are served alike, so go on extended.
			c.state.Store(stateExtended)
		}
	case ipc.MsgError:
		c.fail(remoteError("hello", body))
	default: // a legacy server's answer to an unknown request type
		rememberLegacy(c.path)
		c.helloSettled(stateLegacy)
		if c.speculated.Load() {
			c.fail(&errNoLongerExtended{c.path})
		}
	}
}

// helloSettled records the hello's outcome, once: false if it was known.
func (c *Conn) helloSettled(st int32) bool {
	if !c.state.CompareAndSwap(stateHello, st) {
		return false
	}
	close(c.helloDone)
	return true
}

// helloGone settles an unanswered hello when the connection breaks; a
// server that hung up on it is remembered as legacy.
func (c *Conn) helloGone(hungUp bool) {
	if c.helloSettled(stateLegacy) && hungUp {
		rememberLegacy(c.path)
	}
}

// dropHelloLocked gives up a hello not sent yet: a dedicated stream (Conn.Stream) speaks
// the base protocol. c.mu is held.
func (c *Conn) dropHelloLocked() {
	if c.helloMsg == nil {
		return
	}
	c.helloMsg = nil
	c.pending.del(0)
	if c.state.CompareAndSwap(stateHello, stateBase) {
		close(c.helloDone)
	}
}

// waitHello returns once the hello's answer is known, or helloTimeout
// (bounded by ctx) passed: then the Conn is taken as legacy. A hello not
// sent yet is sent alone; the answer is read by whoever holds the reading
// role, or by the caller itself.
func (c *Conn) waitHello(ctx context.Context) {
	if c.state.Load() != stateHello {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, helloTimeout)
	defer cancel()
	c.sendHello(ctx)
	w := getCall(ctx, "hello", time.Now())
	w.forHello = true
	defer releaseCall(w)
	for {
		c.mu.Lock()
		if c.state.Load() != stateHello {
			c.mu.Unlock()
			return
		}
		if c.err == nil && !c.reading {
			c.reading = true
			c.mu.Unlock()
			if _, err := c.lead(ctx, w); err != nil {
				c.helloSettled(stateLegacy)
				return
			}
			continue
		}
		ch := c.freedLocked()
		c.mu.Unlock()
		select {
		case <-c.helloDone:
			return
		case <-ch:
		case <-ctx.Done():
			c.helloSettled(stateLegacy)
			return
		}
	}
}

// sendHello writes the hello alone if no request has carried it yet.
func (c *Conn) sendHello(ctx context.Context) {
	c.mu.Lock()
	frame := c.helloMsg
	c.helloMsg = nil
	switch {
	case frame == nil || c.err != nil:
		c.mu.Unlock()
	case c.wbusy:
		c.wq = append(c.wq, frame...)
		c.mu.Unlock()
	default:
		c.wbusy = true
		c.mu.Unlock()
		c.writeTurns(ctx, frame, nil)
	}
}

// extended reports whether the server acknowledged the hello (so far).
func (c *Conn) extended() bool { return c.state.Load() == stateExtended }

// Extended reports whether the connection negotiated the extensions. Its
// hello's answer may not be known yet: then Extended waits for it (at most
// helloTimeout, bounded by ctx), reading for it if nobody else does.
func (c *Conn) Extended(ctx context.Context) bool {
	c.waitHello(ctx)
	return c.extended()
}

// Features returns the extension features the server agreed to, nil on a
// legacy connection.
// Like Extended, it waits for the hello's answer.
func (c *Conn) Features(ctx context.Context) []string {
	if !c.Extended(ctx) {
		return nil
	}
	return slices.Clone(c.features)
}

// HasFeature reports whether the server agreed to feature f; like
// Extended, it waits for the hello's answer.
func (c *Conn) HasFeature(ctx context.Context, f string) bool {
	return c.Extended(ctx) && slices.Contains(c.features, f)
}

// ControlCall makes one of the runtime's own calls (an id of the reserved
// block, e.g. ipc.MsgPing), which needs feature: on a connection without it
// (a legacy server) it fails at once with a *RemoteError of code
// Unimplemented. Otherwise it is Invoke without interceptors.
func (c *Conn) ControlCall(ctx context.Context, feature string, info *CallInfo, req msgp.Marshaler, resp msgp.Unmarshaler) error {
	if !c.HasFeature(ctx, feature) {
		return &RemoteError{Method: info.Method, Code: status.Unimplemented,
			Text: "the server at " + c.path + " speaks only the base protocol (no " + feature + ")"}
	}
	return c.invoke(ctx, info, req, resp)
}

// Ping checks that the server answers, one round trip of the runtime's own
// (ipc.MsgPing); it fails with Unimplemented on a legacy server.
func (c *Conn) Ping(ctx context.Context) error {
	return c.ControlCall(ctx, "ping", &CallInfo{Method: "Ping", Request: ipc.MsgPing, Response: ipc.MsgPong}, nil, nil)
}

// RemoteError is an error the server answered a call with: on an extended
// connection an error frame (Code, Text, Details); on a legacy one the
// protocol's error response or a call's non-empty error field (Code
// Unknown: only the text travels). Generated typed methods return it
// (matchable with errors.As) together with the decoded response when the
// error came in the response's error field.
type RemoteError struct {
	Method  string      // e.g. "Status"
	Text    string      // the remote error text, verbatim
	Code    status.Code // the remote code; Unknown when only a text travelled
	Details []byte      // msgpack details of the remote error, if any
}

func (e *RemoteError) Error() string { return e.Method + ": " + e.Text }

// StatusCode is e's code, for status.CodeOf.
func (e *RemoteError) StatusCode() status.Code {
	if e.Code == status.OK {
		return status.Unknown
	}
	return e.Code
}

// Is reports whether target is a *status.Error of e's code whose message is
// e's text, or the start of it before ": " (a sentinel wrapped with
// fmt.Errorf("%w: ...") on the server): a generated package's
// ErrNotImplemented matches across the socket. A remote DeadlineExceeded
// or Canceled also matches context.DeadlineExceeded or context.Canceled.
func (e *RemoteError) Is(target error) bool {
	switch target {
	case context.Canceled, context.DeadlineExceeded:
		// The handler's context ended as the call's did (a relayed
		// deadline or cancel): the call failed for the same reason.
		return status.CodeOf(target) == e.StatusCode()
	}
	t, ok := target.(*status.Error)
	if !ok || t.Code != e.StatusCode() {
		return false
	}
	return e.Text == t.Message || strings.HasPrefix(e.Text, t.Message+": ")
}

// remoteError decodes an error frame's payload for the call method.
func remoteError(method string, body []byte) *RemoteError {
	var st ipc.Status
	if err := ipc.DecodePayload(body, &st); err != nil {
		return &RemoteError{Method: method, Code: status.Internal, Text: "malformed error frame from the server: " + err.Error()}
	}
	return &RemoteError{Method: method, Text: st.Message, Code: status.Code(st.Code), Details: st.Details}
}
