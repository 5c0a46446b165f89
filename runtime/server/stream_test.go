package server_test

// Streams: the last frame, a client gone or not reading, panics, requests sent during a stream.

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

func (r *rawConn) tailFrame() servertest.TailFrame {
	r.t.Helper()
	h, body := r.next()
	if h.MsgType != servertest.MsgTailFrame || h.SeqNo != 0 {
		r.t.Fatalf("got frame %s seq %d, want %s seq 0", h.MsgType, h.SeqNo, servertest.MsgTailFrame)
	}
	var f servertest.TailFrame
	if err := ipc.DecodePayload(body, &f); err != nil {
		r.t.Fatal(err)
	}
	return f
}

// TestStreamLastFrameThenUnary: a stream ending with its last frame gives
// the connection back to request/response mode; requests sent during the
// stream are served after it, in order.
func TestStreamLastFrameThenUnary(t *testing.T) {
	leakCheck(t)
	release := make(chan struct{})
	h := &servertest.Handler{Tail: func(ctx context.Context, req *servertest.TailRequest, s *server.Stream) error {
		<-release
		return servertest.DefaultTail(ctx, req, s)
	}}
	_, path := startServer(t, server.Options{}, h)
	c := dialRaw(t, path)
	c.sendMsg(servertest.MsgTail, 1, &servertest.TailRequest{N: 3})
	c.sendMsg(servertest.MsgEcho, 2, &servertest.EchoRequest{ID: "queued"})
	c.send(servertest.MsgList, 3, nil)
	time.Sleep(50 * time.Millisecond) // let them queue behind the stream
	close(release)
	for i := range 3 {
		f := c.tailFrame()
		if f.I != i || f.EOF != (i == 2) {
			t.Fatalf("frame %d: %+v", i, f)
		}
	}
	// Queued unary requests are dispatched in order and may run
	// concurrently: their answers can come in either order.
	got := map[uint64]string{}
	for range 2 {
		h, body := c.next()
		var resp servertest.EchoResponse
		if err := ipc.DecodePayload(body, &resp); err != nil || h.MsgType != servertest.MsgEchoResponse {
			t.Fatalf("frame %s: %v", h.MsgType, err)
		}
		got[h.SeqNo] = resp.ID
	}
	if id, ok := got[2]; !ok || id != "queued" || len(got) != 2 {
		t.Fatalf("answers %v", got)
	}
	c.sendMsg(servertest.MsgEcho, 4, &servertest.EchoRequest{ID: "after"})
	c.echo(4)
	// A second stream on the same connection works as well.
	c.sendMsg(servertest.MsgTail, 5, &servertest.TailRequest{N: 1})
	if f := c.tailFrame(); !f.EOF {
		t.Fatalf("got %+v", f)
	}
	if err := (&server.Stream{}).Send(0, nil, false); err == nil {
		t.Fatal("Send on a zero Stream succeeded")
	}
}

func TestStreamWithoutLastClosesConnection(t *testing.T) {
	leakCheck(t)
	h := &servertest.Handler{Tail: func(ctx context.Context, req *servertest.TailRequest, s *server.Stream) error {
		return s.Send(servertest.MsgTailFrame, &servertest.TailFrame{I: 1}, false)
	}}
	_, path := startServer(t, server.Options{}, h)
	c := dialRaw(t, path)
	c.sendMsg(servertest.MsgTail, 1, &servertest.TailRequest{})
	c.tailFrame()
	c.expectClosed(2 * time.Second)
}

func TestStreamMalformedRequestKeepsConnection(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{}, nil)
	c := dialRaw(t, path)
	c.send(servertest.MsgTail, 1, []byte{0xC1})
	if got := c.status(1); got == "" {
		t.Fatal("empty error text")
	}
	c.send(servertest.MsgList, 2, nil)
	c.echo(2)
}

func TestStreamSendAfterLastFails(t *testing.T) {
	leakCheck(t)
	errc := make(chan error, 1)
	h := &servertest.Handler{Tail: func(ctx context.Context, req *servertest.TailRequest, s *server.Stream) error {
		if err := s.Send(servertest.MsgTailFrame, &servertest.TailFrame{EOF: true}, true); err != nil {
			return err
		}
		errc <- s.Send(servertest.MsgTailFrame, &servertest.TailFrame{}, false)
		return nil
	}}
	_, path := startServer(t, server.Options{}, h)
	c := dialRaw(t, path)
	c.sendMsg(servertest.MsgTail, 1, &servertest.TailRequest{})
	c.tailFrame()
	if err := <-errc; !errors.Is(err, server.ErrStreamEnded) {
		t.Fatalf("Send after last: %v", err)
	}
}

// TestStreamClientGone: the handler's context ends promptly when the client
// closes the connection, although the handler sends nothing.
func TestStreamClientGone(t *testing.T) {
	leakCheck(t)
	started, ended := make(chan struct{}), make(chan error, 1)
	h := &servertest.Handler{Tail: func(ctx context.Context, req *servertest.TailRequest, s *server.Stream) error {
		if err := s.Send(servertest.MsgTailFrame, &servertest.TailFrame{}, false); err != nil {
			return err
		}
		close(started)
		<-ctx.Done()
		ended <- ctx.Err()
		return ctx.Err()
	}}
	_, path := startServer(t, server.Options{}, h)
	c := dialRaw(t, path)
	c.sendMsg(servertest.MsgTail, 1, &servertest.TailRequest{Follow: true})
	c.tailFrame()
	<-started
	c.nc.Close()
	select {
	case err := <-ended:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("ctx error %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("stream context not cancelled after the client left")
	}
}

// TestStreamSlowReader: a client that stops reading makes Send fail after
// the send timeout, and the connection is dropped; other clients see no
// delay meanwhile.
func TestStreamSlowReader(t *testing.T) {
	leakCheck(t)
	errc := make(chan error, 1)
	big := &servertest.EchoResponse{ID: string(make([]byte, 64<<10))}
	h := &servertest.Handler{Tail: func(ctx context.Context, req *servertest.TailRequest, s *server.Stream) error {
		for {
			if err := s.Send(servertest.MsgEchoResponse, big, false); err != nil {
				errc <- err
				return err
			}
		}
	}}
	_, path := startServer(t, server.Options{StreamSendTimeout: 100 * time.Millisecond}, h)
	other := dialRaw(t, path)
	base := listLatency(other, 20, time.Millisecond)
	c := dialRaw(t, path)
	c.sendMsg(servertest.MsgTail, 1, &servertest.TailRequest{})
	during := listLatency(other, 20, 10*time.Millisecond)
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("nil error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Send still blocked on a client that does not read")
	}
	t.Logf("List worst latency %v before, %v while a reader stalls", base, during)
	if during > base+100*time.Millisecond {
		t.Errorf("other clients delayed: worst List %v during the stall", during)
	}
	// Drain what was buffered; the connection must end.
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := c.fr.ReadFrame(); err != nil {
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("connection not dropped")
			}
			break
		}
	}
}

// A stream handler's panic is recovered and logged: before its first frame
// it is answered with the error response, after it the stream just ends;
// either way the connection closes and others are served.
func TestStreamPanicAnswered(t *testing.T) {
	leakCheck(t)
	var logs logBuffer
	h := &servertest.Handler{Tail: func(ctx context.Context, req *servertest.TailRequest, s *server.Stream) error {
		if req.N > 0 {
			if err := s.Send(servertest.MsgTailFrame, &servertest.TailFrame{I: 7}, false); err != nil {
				return err
			}
		}
		panic("tail boom")
	}}
	_, path := startServer(t, server.Options{Logger: logs.Logger()}, h)
	c := dialRaw(t, path)
	c.sendMsg(servertest.MsgTail, 1, &servertest.TailRequest{})
	if got := c.status(1); got != "server: panic in Tail handler" {
		t.Fatalf("got %q", got)
	}
	c.expectClosed(2 * time.Second)
	c = dialRaw(t, path)
	c.sendMsg(servertest.MsgTail, 1, &servertest.TailRequest{N: 1})
	if f := c.tailFrame(); f.I != 7 {
		t.Fatalf("first frame %+v", f)
	}
	c.expectClosed(2 * time.Second)
	dialRaw(t, path).list(1)
	if out := logs.String(); strings.Count(out, "tail boom") != 2 || !strings.Contains(out, "method=Tail") {
		t.Errorf("stream panics not logged twice:\n%s", out)
	}
}

// TestRequestsOnStreamConnNotRead: requests piled onto a connection that a
// followed stream occupies are not read, let alone served or queued, while
// the stream runs (cliwrap: the stream is the rest of the connection): no
// answer comes, the stream stays up, and the client leaving still ends the
// handler. (TestHostileLargeRequestsOnStream measures the memory.)
func TestRequestsOnStreamConnNotRead(t *testing.T) {
	leakCheck(t)
	ended := make(chan error, 1)
	_, path := startServer(t, server.Options{}, &servertest.Handler{Tail: followUntilGone(ended)})
	c := dialRaw(t, path)
	c.sendMsg(servertest.MsgTail, 1, &servertest.TailRequest{Follow: true})
	if f := c.tailFrame(); f.I != 1 {
		t.Fatalf("first frame %+v", f)
	}
	var pile []byte
	for i := range 200 {
		pile = append(pile, seedFrame(servertest.MsgList, uint64(i+2), nil)...)
	}
	c.write(pile)
	c.nc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if h, body, err := c.fr.ReadFrame(); err == nil {
		t.Fatalf("got frame %s seq %d (%q) while the stream occupies the connection", h.MsgType, h.SeqNo, body)
	} else if !isTimeout(err) {
		t.Fatalf("connection dropped with requests piled on a stream: %v", err)
	}
	select {
	case err := <-ended:
		t.Fatalf("stream handler ended (%v) while its client is still there", err)
	default:
	}
	c.nc.Close()
	select {
	case err := <-ended:
		if err == nil {
			t.Error("handler context ended without an error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stream handler's context still live after the client left")
	}
}

// listLatency runs n Lists on c, every apart, and returns the slowest.
func listLatency(c *rawConn, n int, every time.Duration) time.Duration {
	var worst time.Duration
	for i := range n {
		s := time.Now()
		c.list(uint64(1000 + i))
		worst = max(worst, time.Since(s))
		time.Sleep(every)
	}
	return worst
}

// TestStreamWaitsForInflightCalls: a stream request starts only once the
// connection's in-flight calls are answered.
func TestStreamWaitsForInflightCalls(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{}, nil)
	c := dialRaw(t, path)
	c.sendMsg(servertest.MsgEcho, 1, &servertest.EchoRequest{ID: "first", Sleep: 200 * time.Millisecond})
	c.sendMsg(servertest.MsgTail, 2, &servertest.TailRequest{N: 1})
	if got := c.echo(1); got.ID != "first" {
		t.Fatalf("got %+v", got)
	}
	if f := c.tailFrame(); !f.EOF {
		t.Fatalf("got %+v", f)
	}
}
