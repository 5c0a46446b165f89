package server_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

// gatedEcho answers Echo at once, except for ID "block": that call tells
// started and waits for release (at most 10 s, so a broken test ends).
type gatedEcho struct {
	started chan struct{}
	release chan struct{}
}

func newGatedEcho() *gatedEcho {
	return &gatedEcho{started: make(chan struct{}, 1), release: make(chan struct{})}
}

func (b *gatedEcho) handler() *servertest.Handler {
	return &servertest.Handler{Echo: func(ctx context.Context, req *servertest.EchoRequest) (*servertest.EchoResponse, error) {
		if req.ID == "block" {
			b.started <- struct{}{}
			select {
			case <-b.release:
			case <-time.After(10 * time.Second):
			}
		}
		return servertest.DefaultEcho(ctx, req)
	}}
}

func (b *gatedEcho) waitStarted(t *testing.T) {
	t.Helper()
	select {
	case <-b.started:
	case <-time.After(5 * time.Second):
		t.Fatal("the blocking call did not start")
	}
}

// inlineTestLimit is MaxInlineCall in the tests that need a method to
// qualify: far above what a fast call takes even under -race on a loaded
// machine, and below how long a blocked call is held (expectNothing).
const inlineTestLimit = 100 * time.Millisecond

// warmUp makes n lone Echo calls, each answered before the next is sent:
// the calls that qualify a method for inline serving.
func warmUp(r *rawConn, seq *uint64, n int) {
	for range n {
		*seq++
		r.sendMsg(servertest.MsgEcho, *seq, &servertest.EchoRequest{ID: "fast"})
		r.echo(*seq)
	}
}

// expectNothing checks that no frame arrives within d: the connection's
// reader is busy with an inline call. (A loaded machine can only make the
// frame later, never earlier, so this cannot fail spuriously.)
func expectNothing(t *testing.T, r *rawConn, d time.Duration) {
	t.Helper()
	r.nc.SetReadDeadline(time.Now().Add(d))
	h, _, err := r.fr.ReadFrame()
	var ne net.Error
	if err == nil {
		t.Fatalf("got frame %s seq %d while the inline call still ran", h.MsgType, h.SeqNo)
	}
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read: %v, want a timeout", err)
	}
}

// servedBeside sends a blocking call seq and, once it runs, a call seq+1,
// which must be answered while the first still runs (on a handler
// goroutine, the reader free).
func servedBeside(t *testing.T, r *rawConn, b *gatedEcho, seq uint64) {
	t.Helper()
	r.sendMsg(servertest.MsgEcho, seq, &servertest.EchoRequest{ID: "block"})
	b.waitStarted(t)
	r.sendMsg(servertest.MsgEcho, seq+1, &servertest.EchoRequest{ID: "free"})
	if got := r.echo(seq + 1); got.ID != "free" {
		t.Fatalf("got %+v", got)
	}
	b.release <- struct{}{}
	r.echo(seq)
}

// servedBehind sends a blocking call seq and, once it runs, a call seq+1,
// which must wait until the first is answered (the reader runs the first
// inline), and then be answered right after it.
func servedBehind(t *testing.T, r *rawConn, b *gatedEcho, seq uint64) {
	t.Helper()
	r.sendMsg(servertest.MsgEcho, seq, &servertest.EchoRequest{ID: "block"})
	b.waitStarted(t)
	r.sendMsg(servertest.MsgEcho, seq+1, &servertest.EchoRequest{ID: "behind"})
	expectNothing(t, r, 2*inlineTestLimit)
	b.release <- struct{}{}
	r.echo(seq)
	r.echo(seq + 1)
}

// A method whose calls are slow from the first never runs inline: a request
// sent while one of its calls runs is answered at once.
func TestInlineSlowMethodNeverBlocksReading(t *testing.T) {
	leakCheck(t)
	b := newGatedEcho()
	_, path := startServer(t, server.Options{}, b.handler())
	servedBeside(t, dialRaw(t, path), b, 1)
}

// A method qualifies after 8 fast lone calls and is then served inline: a
// handler that turns slow holds up the next request for that one call (the
// documented bound), and the slow call disqualifies the method, so the
// next slow call runs on a handler goroutine and a request sent meanwhile
// is answered at once. 8 fast calls qualify it again.
func TestInlineSlowCallDisqualifiesMethod(t *testing.T) {
	leakCheck(t)
	b := newGatedEcho()
	_, path := startServer(t, server.Options{MaxInlineCall: inlineTestLimit}, b.handler())
	r := dialRaw(t, path)
	var seq uint64
	warmUp(r, &seq, 8+2)
	servedBehind(t, r, b, 100)
	servedBeside(t, r, b, 102)
	warmUp(r, &seq, 8)
	servedBehind(t, r, b, 104)
}

// MaxInlineCall < 0 turns inline serving off: however fast a method has
// been, a request sent while one of its calls runs is answered at once.
func TestInlineOff(t *testing.T) {
	leakCheck(t)
	b := newGatedEcho()
	_, path := startServer(t, server.Options{MaxInlineCall: -1}, b.handler())
	r := dialRaw(t, path)
	var seq uint64
	warmUp(r, &seq, 20)
	servedBeside(t, r, b, 100)
}

// A request pipelined behind another (its bytes already read) is never
// served inline: both run at once.
func TestInlineNotWithBufferedRequests(t *testing.T) {
	leakCheck(t)
	b := newGatedEcho()
	_, path := startServer(t, server.Options{MaxInlineCall: inlineTestLimit}, b.handler())
	r := dialRaw(t, path)
	var seq uint64
	warmUp(r, &seq, 10)
	frames := appendEcho(nil, 100, "block")
	frames = appendEcho(frames, 101, "free")
	r.write(frames)
	b.waitStarted(t)
	r.echo(101)
	b.release <- struct{}{}
	r.echo(100)
}

// appendEcho appends an Echo request frame.
func appendEcho(b []byte, seq uint64, id string) []byte {
	b, err := ipc.AppendMsgFrame(b, ipc.Header{MsgType: servertest.MsgEcho, SeqNo: seq}, &servertest.EchoRequest{ID: id})
	if err != nil {
		panic(err)
	}
	return b
}
