package server_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

// flakyListener fails its first Accept calls with a temporary error.
type flakyListener struct {
	net.Listener
	fails atomic.Int32
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.fails.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "unix", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

func TestAcceptBackoff(t *testing.T) {
	leakCheck(t)
	path := filepath.Join(t.TempDir(), "flaky.sock")
	inner, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	l := &flakyListener{Listener: inner}
	l.fails.Store(3)
	var logs logBuffer
	s, err := server.New(server.Options{Logger: newLogger(&logs)}, servertest.Table(&servertest.Handler{}))
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	c := dialRaw(t, path)
	c.send(servertest.MsgList, 1, nil)
	c.echo(1)
	if n := strings.Count(logs.String(), "accept failed; retrying"); n != 3 {
		t.Errorf("%d retries logged, want 3:\n%s", n, logs.String())
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, server.ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
}

// TestCloseKeepsForeignSocket: the socket file removed under a running
// server: its connections keep working, new dials find nothing; another
// server may then start at the path, and the first one's Close never
// removes the second one's socket.
func TestCloseKeepsForeignSocket(t *testing.T) {
	leakCheck(t)
	s1, path := newServer(t, server.Options{}, nil)
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

// TestUnaryContextEndsWithConnection: a unary handler's context is
// cancelled when the client goes away.
func TestUnaryContextEndsWithConnection(t *testing.T) {
	leakCheck(t)
	done := make(chan error, 1)
	h := &servertest.Handler{Echo: func(ctx context.Context, req *servertest.EchoRequest) (*servertest.EchoResponse, error) {
		<-ctx.Done()
		done <- ctx.Err()
		return nil, ctx.Err()
	}}
	_, path := startServer(t, server.Options{}, h)
	c := dialRaw(t, path)
	c.sendMsg(servertest.MsgEcho, 1, &servertest.EchoRequest{})
	time.Sleep(50 * time.Millisecond)
	c.nc.Close()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("handler context not cancelled")
	}
}

// TestUnaryWriteTimeout: a client that sends requests but never reads the
// answers is dropped after the write timeout.
func TestUnaryWriteTimeout(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{WriteTimeout: 100 * time.Millisecond}, nil)
	c := dialRaw(t, path)
	big := strings.Repeat("x", 256<<10)
	go func() {
		for i := range 64 {
			frame := seedFrame(servertest.MsgEcho, uint64(i+1), &servertest.EchoRequest{ID: big})
			if _, err := c.nc.Write(frame); err != nil {
				return
			}
		}
	}()
	time.Sleep(time.Second)
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := c.fr.ReadFrame(); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("connection not dropped")
			}
			return
		}
	}
}

func TestStartWithoutPath(t *testing.T) {
	s, err := server.New(server.Options{}, servertest.Table(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err == nil {
		t.Fatal("Start without a socket path succeeded")
	}
}

func TestErrorTexts(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{server.ErrServerClosed, "server: closed"},
		{server.ErrStreamEnded, "server: stream already ended"},
	} {
		if got := fmt.Sprint(c.err); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}

// TestSlowCallDoesNotHoldUpLater: a slow call, even alone on the wire,
// runs on its own handler goroutine: the reader goes on reading, so a later
// request on the same connection is not held up.
func TestSlowCallDoesNotHoldUpLater(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{}, nil)
	c := dialRaw(t, path)
	for round := range 3 {
		seq := uint64(10 * round)
		c.sendMsg(servertest.MsgEcho, seq+1, &servertest.EchoRequest{ID: "slow", Sleep: 300 * time.Millisecond})
		time.Sleep(20 * time.Millisecond) // alone on the wire
		start := time.Now()
		c.sendMsg(servertest.MsgEcho, seq+2, &servertest.EchoRequest{ID: "fast"})
		if got := c.echo(seq + 2); got.ID != "fast" {
			t.Fatalf("got %+v", got)
		}
		if d := time.Since(start); d > 200*time.Millisecond {
			t.Fatalf("fast call waited %v behind the slow one", d)
		}
		if got := c.echo(seq + 1); got.ID != "slow" {
			t.Fatalf("got %+v", got)
		}
	}
}

// TestNilResponseAnswered: a handler returning a nil response pointer (and
// no error) is answered with the zero response, as generated handlers
// document.
func TestNilResponseAnswered(t *testing.T) {
	leakCheck(t)
	h := &servertest.Handler{Echo: func(ctx context.Context, req *servertest.EchoRequest) (*servertest.EchoResponse, error) {
		return nil, nil
	}}
	_, path := startServer(t, server.Options{}, h)
	c := dialRaw(t, path)
	c.sendMsg(servertest.MsgEcho, 1, &servertest.EchoRequest{ID: "x", N: 7})
	if got := c.echo(1); *got != (servertest.EchoResponse{}) {
		t.Fatalf("got %+v, want the zero response", got)
	}
	c.send(servertest.MsgList, 2, nil)
	c.echo(2)
}

// TestIdleTimeoutCountsFromLastRequest: a connection used more often than
// the idle timeout stays open however long it lives, then closes once left
// idle.
func TestIdleTimeoutCountsFromLastRequest(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{IdleTimeout: 150 * time.Millisecond}, nil)
	c := dialRaw(t, path)
	for i := range 8 {
		c.send(servertest.MsgList, uint64(i+1), nil)
		c.echo(uint64(i + 1))
		time.Sleep(60 * time.Millisecond)
	}
	start := time.Now()
	c.expectClosed(2 * time.Second)
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("closed %v after the last request", d)
	}
}
