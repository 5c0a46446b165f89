package server_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

func newServer(t *testing.T, opts server.Options, h *servertest.Handler) (*server.Server, string) {
	t.Helper()
	opts.SocketPath = filepath.Join(t.TempDir(), "s.sock")
	opts.Logger = newLogger(&logBuffer{})
	if h == nil {
		h = &servertest.Handler{}
	}
	s, err := server.New(opts, servertest.Table(h))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	return s, opts.SocketPath
}

// TestCloseLetsCallsFinish: calls in flight when Close starts complete and
// are answered; idle connections are closed; the socket file is removed.
func TestCloseLetsCallsFinish(t *testing.T) {
	leakCheck(t)
	s, path := newServer(t, server.Options{}, nil)
	busy, idle := dialRaw(t, path), dialRaw(t, path)
	idle.send(servertest.MsgList, 1, nil)
	idle.echo(1)
	busy.sendMsg(servertest.MsgEcho, 1, &servertest.EchoRequest{ID: "inflight", Sleep: 300 * time.Millisecond})
	time.Sleep(50 * time.Millisecond)

	closed := make(chan error, 1)
	go func() { closed <- s.Close(context.Background()) }()
	idle.expectClosed(2 * time.Second)
	if got := busy.echo(1); got.ID != "inflight" {
		t.Fatalf("got %+v", got)
	}
	busy.expectClosed(2 * time.Second)
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket file left behind: %v", err)
	}
	if _, err := net.Dial("unix", path); err == nil {
		t.Fatal("dial after Close succeeded")
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
	release := make(chan struct{})
	h := &servertest.Handler{Echo: func(ctx context.Context, req *servertest.EchoRequest) (*servertest.EchoResponse, error) {
		<-release
		return &servertest.EchoResponse{}, nil
	}}
	s, path := newServer(t, server.Options{}, h)
	c := dialRaw(t, path)
	c.sendMsg(servertest.MsgEcho, 1, &servertest.EchoRequest{})
	time.Sleep(50 * time.Millisecond)
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
	s, path := newServer(t, server.Options{}, nil)
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

func TestServeOwnListener(t *testing.T) {
	leakCheck(t)
	path := filepath.Join(t.TempDir(), "own.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := server.New(server.Options{Logger: newLogger(&logBuffer{})}, servertest.Table(&servertest.Handler{}))
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	c := dialRaw(t, path)
	c.send(servertest.MsgList, 1, nil)
	c.echo(1)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, server.ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
}

// TestCloseEndsInOrderWithUnreadRequests: requests a client sent during a
// followed stream stay unread (more than the read buffer takes in); Close
// still ends the connection in order, the client reading EOF after the
// stream's frames, not a reset (closing a Unix socket with unread bytes
// resets it, so the server takes them in first).
func TestCloseEndsInOrderWithUnreadRequests(t *testing.T) {
	leakCheck(t)
	ended := make(chan error, 1)
	s, path := newServer(t, server.Options{}, &servertest.Handler{Tail: followUntilGone(ended)})
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
