package server_test

// Attacks by one well-formed hostile connection, with the numbers the runtime promises.

import (
	"context"
	"errors"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

// followUntilGone is a Tail handler for a followed stream that sends one
// frame, then waits for its context and reports when it ended.
func followUntilGone(ended chan<- error) func(ctx context.Context, _ *servertest.TailRequest, s *server.Stream) error {
	return func(ctx context.Context, _ *servertest.TailRequest, s *server.Stream) error {
		if err := s.Send(servertest.MsgTailFrame, &servertest.TailFrame{I: 1}, false); err != nil {
			ended <- err
			return err
		}
		<-ctx.Done()
		ended <- ctx.Err()
		return nil
	}
}

// writeUntilBlocked writes frame to nc n times from another goroutine, in
// 64 KiB pieces, and returns once a piece has made no progress for 200 ms
// (the server stopped reading) or everything was written. It returns the
// bytes written.
func writeUntilBlocked(t *testing.T, nc net.Conn, frame []byte, n int) int {
	t.Helper()
	total := 0
	for range n {
		for off := 0; off < len(frame); {
			end := min(off+64<<10, len(frame))
			nc.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
			w, err := nc.Write(frame[off:end])
			total += w
			off += w
			if err != nil {
				if isTimeout(err) {
					return total
				}
				t.Fatalf("write after %d bytes: %v", total, err)
			}
		}
	}
	return total
}

// Attack 1: while a followed stream occupies the connection, 64 requests of
// 2 MiB each are sent on it. The server reads none of them: its heap grows
// by less than 1 MiB (the bound: the connection's 4 KiB read buffer; the
// rest waits in the socket), where the old runtime queued +151 MiB. The
// client hanging up with its requests unread still ends the stream.
func TestHostileLargeRequestsOnStream(t *testing.T) {
	leakCheck(t)
	ended := make(chan error, 1)
	_, path := startServer(t, server.Options{}, &servertest.Handler{Tail: followUntilGone(ended)})
	c := dialRaw(t, path)
	c.sendMsg(servertest.MsgTail, 1, &servertest.TailRequest{Follow: true})
	if f := c.tailFrame(); f.I != 1 {
		t.Fatalf("first frame %+v", f)
	}
	big := seedFrame(servertest.MsgEcho, 2, &servertest.EchoRequest{ID: strings.Repeat("x", 2<<20)})
	base := liveHeap()
	sent := writeUntilBlocked(t, c.nc, big, 64)
	grown := int64(liveHeap()) - int64(base)
	t.Logf("%d request bytes sent during the stream before the socket filled; server heap grew by %d bytes", sent, grown)
	if grown > 1<<20 {
		t.Errorf("heap grew by %d bytes while the stream held the connection, want < 1 MiB", grown)
	}
	select {
	case err := <-ended:
		t.Fatalf("stream ended (%v) while its client is still there", err)
	default:
	}
	c.nc.Close()
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("stream not cancelled when its client left with requests unread")
	}
	runtime.KeepAlive(big)
}

// Attack 2: slow requests sent 4 ms apart on one connection. At most
// MaxCallsPerConn handlers run at once, and the server's goroutines grow by
// at most that plus a small constant (8); every request is answered.
func TestHostileSlowRequestsBounded(t *testing.T) {
	leakCheck(t)
	const calls, requests = 16, 150
	var running, peak atomic.Int64
	h := &servertest.Handler{Echo: func(ctx context.Context, req *servertest.EchoRequest) (*servertest.EchoResponse, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		return servertest.DefaultEcho(ctx, req)
	}}
	_, path := startServer(t, server.Options{MaxCallsPerConn: calls}, h)
	c := dialRaw(t, path)
	base := runtime.NumGoroutine()
	stop := make(chan struct{})
	peakG := peakGoroutines(stop)
	go func() {
		for i := range requests {
			frame := seedFrame(servertest.MsgEcho, uint64(i+1), &servertest.EchoRequest{ID: "slow", Sleep: 100 * time.Millisecond})
			if _, err := c.nc.Write(frame); err != nil {
				return
			}
			time.Sleep(4 * time.Millisecond)
		}
	}()
	seen := map[uint64]bool{}
	for range requests {
		c.nc.SetReadDeadline(time.Now().Add(20 * time.Second))
		h, _, err := c.fr.ReadFrame()
		if err != nil {
			t.Fatalf("after %d answers: %v", len(seen), err)
		}
		seen[h.SeqNo] = true
	}
	close(stop)
	g := <-peakG - base
	t.Logf("%d slow requests: at most %d handlers at once (limit %d), goroutines +%d", requests, peak.Load(), calls, g)
	if len(seen) != requests {
		t.Errorf("%d distinct answers, want %d", len(seen), requests)
	}
	if p := peak.Load(); p > calls || p < calls/2 {
		t.Errorf("%d handlers ran at once, want at most (and near) MaxCallsPerConn %d", p, calls)
	}
	if g > calls+8 {
		t.Errorf("goroutines grew by %d, want at most MaxCallsPerConn+8 = %d", g, calls+8)
	}
}

// Attack 3: a client that never reads and sends a request every few
// milliseconds. Each answer is large, so a write soon blocks; later
// answers must not push its deadline: the connection is dropped between
// WriteTimeout and WriteTimeout + 3 s (slack for a loaded machine) after
// the attack began, where the old runtime kept it past 5 s. Goroutines stay
// within MaxCallsPerConn + 8.
func TestHostileNonReaderDropped(t *testing.T) {
	leakCheck(t)
	const writeTimeout = 500 * time.Millisecond
	answer := strings.Repeat("a", 256<<10)
	var once sync.Once
	dropped := make(chan time.Time, 1)
	h := &servertest.Handler{Echo: func(ctx context.Context, req *servertest.EchoRequest) (*servertest.EchoResponse, error) {
		once.Do(func() { context.AfterFunc(ctx, func() { dropped <- time.Now() }) })
		return &servertest.EchoResponse{ID: answer, N: req.N}, nil
	}}
	_, path := startServer(t, server.Options{WriteTimeout: writeTimeout}, h)
	c := dialRaw(t, path)
	base := runtime.NumGoroutine()
	stop := make(chan struct{})
	peakG := peakGoroutines(stop)
	start := time.Now()
	trickle := make(chan struct{})
	go func() {
		defer close(trickle)
		for i := 0; time.Since(start) < 8*time.Second; i++ {
			c.nc.SetWriteDeadline(time.Now().Add(3 * time.Millisecond))
			if _, err := c.nc.Write(seedFrame(servertest.MsgEcho, uint64(i+1), &servertest.EchoRequest{N: i})); err != nil && !isTimeout(err) {
				return // the server closed the connection
			}
			time.Sleep(3 * time.Millisecond)
		}
	}()
	var at time.Time
	select {
	case at = <-dropped:
	case <-time.After(10 * time.Second):
		t.Fatal("client that never reads still connected after 10 s")
	}
	<-trickle
	close(stop)
	g := <-peakG - base
	d := at.Sub(start)
	t.Logf("non-reading client dropped %v after the attack began (WriteTimeout %v); goroutines +%d", d, writeTimeout, g)
	if d < writeTimeout || d > writeTimeout+3*time.Second {
		t.Errorf("dropped after %v, want between %v and %v", d, writeTimeout, writeTimeout+3*time.Second)
	}
	if g > server.DefaultMaxCallsPerConn+8 {
		t.Errorf("goroutines grew by %d, want at most MaxCallsPerConn+8 = %d", g, server.DefaultMaxCallsPerConn+8)
	}
}

// paddedTail is a TailRequest map with an extra key the decoder skips.
type paddedTail struct{ pad []byte }

func (p paddedTail) MarshalMsg(b []byte) ([]byte, error) {
	b = msgp.AppendMapHeader(b, 3)
	b = msgp.AppendString(b, "n")
	b = msgp.AppendInt(b, 1)
	b = msgp.AppendString(b, "f")
	b = msgp.AppendBool(b, true)
	b = msgp.AppendString(b, "zz-padding")
	return msgp.AppendBytes(b, p.pad), nil
}

// Attack 4: a stream request padded with a 4 MiB unknown key. Its body is
// released once decoded: while the stream runs the server holds less than
// 512 KiB more than before it (old runtime: 3.6 MiB per 4 MiB request).
func TestHostilePaddedStreamRequest(t *testing.T) {
	leakCheck(t)
	ended := make(chan error, 1)
	_, path := startServer(t, server.Options{}, &servertest.Handler{Tail: followUntilGone(ended)})
	c := dialRaw(t, path)
	frame := seedFrame(servertest.MsgTail, 1, paddedTail{pad: make([]byte, 4<<20)})
	base := liveHeap()
	c.write(frame)
	if f := c.tailFrame(); f.I != 1 {
		t.Fatalf("first frame %+v", f)
	}
	grown := int64(liveHeap()) - int64(base)
	t.Logf("stream from a %d-byte request: server heap +%d bytes while it runs", len(frame), grown)
	if grown > 512<<10 {
		t.Errorf("heap grew by %d bytes while the stream runs, want < 512 KiB", grown)
	}
	c.nc.Close()
	if err := <-ended; !errors.Is(err, context.Canceled) {
		t.Errorf("stream ended with %v, want context.Canceled", err)
	}
	runtime.KeepAlive(frame)
}

// A request after the body of a stream request is read only once the
// stream ends with its last frame, and then answered.
func TestRequestAfterStreamWaits(t *testing.T) {
	leakCheck(t)
	release := make(chan struct{})
	h := &servertest.Handler{Tail: func(ctx context.Context, _ *servertest.TailRequest, s *server.Stream) error {
		<-release
		return s.Send(servertest.MsgTailFrame, &servertest.TailFrame{EOF: true}, true)
	}}
	_, path := startServer(t, server.Options{}, h)
	c := dialRaw(t, path)
	c.write(append(seedFrame(servertest.MsgTail, 1, &servertest.TailRequest{}), seedFrame(servertest.MsgList, 2, nil)...))
	c.nc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if h, _, err := c.fr.ReadFrame(); err == nil {
		t.Fatalf("got %s seq %d before the stream ended", h.MsgType, h.SeqNo)
	}
	close(release)
	if f := c.tailFrame(); !f.EOF {
		t.Fatalf("got %+v, want the last frame", f)
	}
	if got := c.echo(2); got.N != servertest.ListN {
		t.Fatalf("List after the stream: %+v", got)
	}
}
