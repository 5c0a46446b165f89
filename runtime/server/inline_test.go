package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"sync"
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

// A method qualifies after 8 fast calls and is then served inline: a
// handler that turns slow holds up the next request for that one call (the
// documented bound), and the slow call disqualifies the method, so the
// next slow call runs on a handler goroutine and a request sent meanwhile
// is answered at once. 8 fast calls qualify it again. (Deterministic: a
// call's time is recorded before its answer is written, so each answer the
// test reads has been counted.)
func TestInlineSlowCallDisqualifiesMethod(t *testing.T) {
	leakCheck(t)
	b := newGatedEcho()
	_, path := startServer(t, server.Options{MaxInlineCall: inlineTestLimit}, b.handler())
	r := dialRaw(t, path)
	var seq uint64
	warmUp(r, &seq, 8)
	servedBehind(t, r, b, 100)
	servedBeside(t, r, b, 102)
	warmUp(r, &seq, 8)
	servedBehind(t, r, b, 104)
}

// A slow call that ends a run of 64 fast calls is taken for a hiccup (the
// OS descheduling the reader's thread): one fast call qualifies the method
// again, not 8. Only once per such run: after a second slow call soon
// after, 7 fast calls are not enough. (servedBehind's second call is a
// fast call of the method too.)
func TestInlineIsolatedSlowCallRequalifiesAtOnce(t *testing.T) {
	leakCheck(t)
	b := newGatedEcho()
	_, path := startServer(t, server.Options{MaxInlineCall: inlineTestLimit}, b.handler())
	r := dialRaw(t, path)
	var seq uint64
	warmUp(r, &seq, 64)
	servedBehind(t, r, b, 100) // slow after 64 fast, then 1 fast call
	servedBehind(t, r, b, 102) // so inline again; slow after 1 fast, then 1 fast
	warmUp(r, &seq, 6)
	servedBeside(t, r, b, 104) // 7 fast calls: not inline
}

// A qualified method's call that blocks on the reader holds up only its
// own connection: a request sent behind it there waits, while another
// connection's calls of the same method are served meanwhile; once the
// blocked call returns, both answers come, and the method is disqualified:
// its next blocking call runs on a handler goroutine.
func TestInlineBlockedCallHoldsOnlyItsConnection(t *testing.T) {
	leakCheck(t)
	b := newGatedEcho()
	_, path := startServer(t, server.Options{MaxInlineCall: inlineTestLimit}, b.handler())
	r := dialRaw(t, path)
	var seq uint64
	warmUp(r, &seq, 8)
	r.sendMsg(servertest.MsgEcho, 100, &servertest.EchoRequest{ID: "block"})
	b.waitStarted(t)
	r.sendMsg(servertest.MsgEcho, 101, &servertest.EchoRequest{ID: "behind"})
	other := dialRaw(t, path)
	for i := range uint64(3) {
		other.sendMsg(servertest.MsgEcho, 1+i, &servertest.EchoRequest{ID: "other"})
		if got := other.echo(1 + i); got.ID != "other" {
			t.Fatalf("other connection: %+v", got)
		}
	}
	expectNothing(t, r, 2*inlineTestLimit)
	b.release <- struct{}{}
	r.echo(100)
	r.echo(101)
	servedBeside(t, r, b, 102)
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

// Requests read together are served inline one after the other, like
// requests sent one by one: one pipelined behind a call of a qualified
// method waits for it, and is answered right after it.
func TestInlineBufferedRequests(t *testing.T) {
	leakCheck(t)
	b := newGatedEcho()
	_, path := startServer(t, server.Options{MaxInlineCall: inlineTestLimit}, b.handler())
	r := dialRaw(t, path)
	var seq uint64
	warmUp(r, &seq, 8)
	frames := appendEcho(nil, 100, "block")
	frames = appendEcho(frames, 101, "behind")
	r.write(frames)
	b.waitStarted(t)
	expectNothing(t, r, 2*inlineTestLimit)
	b.release <- struct{}{}
	r.echo(100)
	r.echo(101)
}

// Calls of a qualified method are served inline while calls of another
// run on handler goroutines: List (qualified) is answered while an Echo
// (never fast yet) holds its handler goroutine.
func TestInlineBesideHandlerCalls(t *testing.T) {
	leakCheck(t)
	b := newGatedEcho()
	_, path := startServer(t, server.Options{MaxInlineCall: inlineTestLimit}, b.handler())
	r := dialRaw(t, path)
	for seq := range uint64(8) {
		r.send(servertest.MsgList, seq+1, nil)
		r.echo(seq + 1)
	}
	r.sendMsg(servertest.MsgEcho, 100, &servertest.EchoRequest{ID: "block"})
	b.waitStarted(t)
	var burst []byte
	for seq := range uint64(4) {
		burst = appendFrame(burst, servertest.MsgList, 101+seq, nil)
	}
	r.write(burst)
	for seq := range uint64(4) {
		if got := r.echo(101 + seq); got.N != servertest.ListN {
			t.Fatalf("List answer %+v", got)
		}
	}
	b.release <- struct{}{}
	r.echo(100)
}

// A burst of requests read in one read is answered in one write: the
// reader holds the answers of the calls it serves inline and flushes them
// once it has nothing more buffered to serve. The answers held keep their
// call slots, so MaxCallsPerConn bounds them: with 4 slots the reader
// flushes every 4 answers. (The warm-up runs on a connection of its own:
// its handler goroutines may still hold their slots for a moment after
// their answers, and the burst's connection has none.)
func TestInlineBurstAnsweredInOneWrite(t *testing.T) {
	for _, tc := range []struct{ slots, perWrite, writes int }{{0, 16, 1}, {4, 4, 4}} {
		t.Run(fmt.Sprintf("MaxCallsPerConn=%d", tc.slots), func(t *testing.T) {
			leakCheck(t)
			l := listenCounting(t)
			startServer(t, server.Options{MaxInlineCall: inlineTestLimit, MaxCallsPerConn: tc.slots, Listeners: []net.Listener{l}}, nil)
			var seq uint64
			warmUp(dialRaw(t, l.Addr().String()), &seq, 8) // qualifies Echo on the server
			r := dialRaw(t, l.Addr().String())
			l.reset()
			const burst = 16
			var frames []byte
			for i := range uint64(burst) {
				frames = appendEcho(frames, 100+i, "fast")
			}
			r.write(frames) // one write: the server reads it in one read
			for i := range uint64(burst) {
				r.echo(100 + i)
			}
			counts := l.framesPerWrite(t)
			if len(counts) != tc.writes || slices.Max(counts) != tc.perWrite {
				t.Fatalf("%d answers went out in writes of %v frames; want %d writes of %d", burst, counts, tc.writes, tc.perWrite)
			}
		})
	}
}

// countingListener is a Unix listener whose connections record the writes
// made on them.
type countingListener struct {
	*net.UnixListener
	mu     sync.Mutex
	writes [][]byte
}

func listenCounting(t *testing.T) *countingListener {
	t.Helper()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(t.TempDir(), "s"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	return &countingListener{UnixListener: l}
}

func (l *countingListener) Accept() (net.Conn, error) {
	uc, err := l.AcceptUnix()
	if err != nil {
		return nil, err
	}
	return &countingConn{UnixConn: uc, l: l}, nil
}

// reset forgets the writes made so far.
func (l *countingListener) reset() {
	l.mu.Lock()
	l.writes = nil
	l.mu.Unlock()
}

// framesPerWrite returns how many frames each write since reset carried.
func (l *countingListener) framesPerWrite(t *testing.T) []int {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var counts []int
	for _, w := range l.writes {
		fr := ipc.NewFrameReader(bytes.NewReader(w), 0)
		n := 0
		for {
			if _, _, err := fr.ReadFrame(); err != nil {
				break
			}
			n++
		}
		counts = append(counts, n)
	}
	return counts
}

type countingConn struct {
	*net.UnixConn
	l *countingListener
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.l.mu.Lock()
	c.l.writes = append(c.l.writes, bytes.Clone(p))
	c.l.mu.Unlock()
	return c.UnixConn.Write(p)
}

// appendFrame appends a frame carrying payload.
func appendFrame(b []byte, t ipc.MsgType, seq uint64, payload []byte) []byte {
	b, err := ipc.AppendFrame(b, ipc.Header{MsgType: t, SeqNo: seq}, payload)
	if err != nil {
		panic(err)
	}
	return b
}

// appendEcho appends an Echo request frame.
func appendEcho(b []byte, seq uint64, id string) []byte {
	b, err := ipc.AppendMsgFrame(b, ipc.Header{MsgType: servertest.MsgEcho, SeqNo: seq}, &servertest.EchoRequest{ID: id})
	if err != nil {
		panic(err)
	}
	return b
}
