package server_test

// Close: in-flight calls finish, streams end, the socket file is removed; giving up at ctx's end.

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

// TestCloseLetsCallsFinish: when Close begins it removes the socket file,
// closes idle connections and ends open streams at once (their clients read
// EOF after the frames sent), but waits for a call in flight, which is
// answered; then Close returns nil and the server cannot start again.
func TestCloseLetsCallsFinish(t *testing.T) {
	leakCheck(t)
	entered, release := make(chan struct{}, 1), make(chan struct{})
	streamEnded := make(chan error, 1)
	h := &servertest.Handler{
		Echo: func(ctx context.Context, req *servertest.EchoRequest) (*servertest.EchoResponse, error) {
			if req.ID == "inflight" {
				entered <- struct{}{}
				<-release // deaf to ctx: Close must wait for it
			}
			return servertest.DefaultEcho(ctx, req)
		},
		Tail: followUntilGone(streamEnded),
	}
	s, path := startServer(t, server.Options{}, h)
	busy, idle, stream := dialRaw(t, path), dialRaw(t, path), dialRaw(t, path)
	idle.send(servertest.MsgList, 1, nil)
	idle.echo(1)
	stream.sendMsg(servertest.MsgTail, 1, &servertest.TailRequest{Follow: true})
	stream.tailFrame()
	busy.sendMsg(servertest.MsgEcho, 1, &servertest.EchoRequest{ID: "inflight"})
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the in-flight call's handler never ran")
	}

	closed := make(chan error, 1)
	go func() { closed <- s.Close(context.Background()) }()
	select {
	case err := <-streamEnded:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("stream ended with %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the open stream")
	}
	stream.expectClosed(2 * time.Second)
	idle.expectClosed(2 * time.Second)
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file once Close began: %v, want it removed", err)
	}
	if _, err := net.Dial("unix", path); err == nil {
		t.Error("dial after Close began succeeded")
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v with a call in flight", err)
	default:
	}
	close(release)
	if got := busy.echo(1); got.ID != "inflight" {
		t.Fatalf("in-flight call answered %+v", got)
	}
	busy.expectClosed(2 * time.Second)
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return once the call was answered")
	}
	if err := s.Start(); !errors.Is(err, server.ErrServerClosed) {
		t.Fatalf("Start after Close: %v", err)
	}
	if err := s.Serve(nil); !errors.Is(err, server.ErrServerClosed) {
		t.Fatalf("Serve after Close: %v", err)
	}
}

// TestCloseDeadline: Close gives up when ctx ends before a call finishes,
// returning ctx.Err() and cutting the connection.
func TestCloseDeadline(t *testing.T) {
	leakCheck(t)
	entered, release := make(chan struct{}, 1), make(chan struct{})
	h := &servertest.Handler{Echo: func(ctx context.Context, req *servertest.EchoRequest) (*servertest.EchoResponse, error) {
		entered <- struct{}{}
		<-release // hangs, deaf to its ctx
		return &servertest.EchoResponse{}, nil
	}}
	s, path := startServer(t, server.Options{}, h)
	c := dialRaw(t, path)
	c.sendMsg(servertest.MsgEcho, 1, &servertest.EchoRequest{})
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the hanging handler never ran")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := s.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close: %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Close took %v", d)
	}
	c.expectClosed(2 * time.Second)
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file after Close gave up: %v, want it removed", err)
	}
	close(release)
	// Calling Close again waits for the handler to return.
	if err := s.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestCloseEndsStreams: Close cancels an active stream and closes its
// connection.
func TestCloseEndsStreams(t *testing.T) {
	leakCheck(t)
	s, path := startServer(t, server.Options{}, nil)
	c := dialRaw(t, path)
	c.sendMsg(servertest.MsgTail, 1, &servertest.TailRequest{N: 1, Follow: true})
	c.tailFrame()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	c.expectClosed(2 * time.Second)
}

// TestCloseEndsInOrderWithUnreadRequests: requests a client sent during a
// followed stream stay unread (more than the read buffer takes in); Close
// still ends the connection in order, the client reading EOF after the
// stream's frames, not a reset (closing a Unix socket with unread bytes
// resets it, so the server takes them in first).
func TestCloseEndsInOrderWithUnreadRequests(t *testing.T) {
	leakCheck(t)
	ended := make(chan error, 1)
	s, path := startServer(t, server.Options{}, &servertest.Handler{Tail: followUntilGone(ended)})
	c := dialRaw(t, path)
	c.sendMsg(servertest.MsgTail, 1, &servertest.TailRequest{Follow: true})
	c.tailFrame()
	var pile []byte
	for i := range 1000 { // 17 KiB: more than the 4 KiB read buffer
		pile = append(pile, seedFrame(servertest.MsgList, uint64(i+2), nil)...)
	}
	c.write(pile)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	<-ended
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if h, _, err := c.fr.ReadFrame(); !errors.Is(err, io.EOF) {
		t.Fatalf("after Close: frame %s, err %v; want io.EOF", h.MsgType, err)
	}
}

// TestCloseKeepsForeignSocket: the socket file removed under a running
// server: its connections keep working, new dials find nothing; another
// server may then start at the path, and the first one's Close never
// removes the second one's socket.
func TestCloseKeepsForeignSocket(t *testing.T) {
	leakCheck(t)
	s1, path := startServer(t, server.Options{}, nil)
	c := dialRaw(t, path)
	c.list(1)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	c.list(2)
	if _, err := net.Dial("unix", path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dial after removal: %v, want ENOENT", err)
	}
	_, _ = startServer(t, server.Options{SocketPath: path}, nil)
	c.list(3) // the first server still answers its connection
	if err := s1.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("first server's Close removed the second server's socket: %v", err)
	}
	dialRaw(t, path).list(1)
}

// TestCloseJustAfterConnect: Close that comes as a connection is being
// accepted (before its reader has started) still closes it at once. The
// reader used to arm its idle deadline over Close's wake-up and wait out
// IdleTimeout, so Close hung until its context ended.
func TestCloseJustAfterConnect(t *testing.T) {
	leakCheck(t)
	for i := range 100 {
		s, path := startServer(t, server.Options{}, &servertest.Handler{})
		nc, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		start := time.Now()
		err = s.Close(ctx)
		cancel()
		nc.Close()
		if err != nil {
			t.Fatalf("round %d: Close: %v after %v; want nil at once", i, err, time.Since(start))
		}
	}
}
