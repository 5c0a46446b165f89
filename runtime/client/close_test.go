package client_test

// Closing: the caller closing a Conn, the server going away, and what every pending and later
// call gets.

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

// TestBrokenConnection: when the server goes away every pending call fails
// promptly with an error saying so, and later calls fail fast.
func TestBrokenConnection(t *testing.T) {
	leakCheck(t)
	s, path := start(t, &servertest.Handler{Echo: func(ctx context.Context, req *servertest.EchoRequest) (*servertest.EchoResponse, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}})
	c := dial(t, path, client.Options{})
	errc := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := echo(context.Background(), c, &servertest.EchoRequest{})
			errc <- err
		}()
	}
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	s.Close(ctx) // gives up on the blocked calls and cuts the connection
	for range 8 {
		select {
		case err := <-errc:
			var ce *client.ConnError
			if !errors.As(err, &ce) || !errors.Is(err, client.ErrClosed) || !strings.HasPrefix(err.Error(), "client: connection closed: ") {
				t.Fatalf("pending call: %v", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("pending call not failed")
		}
	}
	begin := time.Now()
	if _, err := echo(context.Background(), c, &servertest.EchoRequest{}); err == nil || time.Since(begin) > 100*time.Millisecond {
		t.Fatalf("call on a broken connection: %v after %v", err, time.Since(begin))
	}
	if c.Err() == nil {
		t.Fatal("Err nil on a broken connection")
	}
}

// TestCloseFailsPending: Close fails the calls in flight and later ones
// with ErrClosed saying the client closed it, and leaves the streams it
// opened (each on its own connection) alone.
func TestCloseFailsPending(t *testing.T) {
	leakCheck(t)
	release := make(chan struct{})
	defer close(release)
	entered := make(chan struct{}, 1)
	more := make(chan int)
	_, path := start(t, &servertest.Handler{
		Echo: func(ctx context.Context, req *servertest.EchoRequest) (*servertest.EchoResponse, error) {
			entered <- struct{}{}
			<-release
			return &servertest.EchoResponse{}, nil
		},
		Tail: func(ctx context.Context, req *servertest.TailRequest, s *server.Stream) error {
			for {
				select {
				case i := <-more:
					if err := s.Send(servertest.MsgTailFrame, &servertest.TailFrame{I: i}, false); err != nil {
						return err
					}
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		},
	})
	c, err := client.Dial(path, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.OpenStream(context.Background(), tailInfo, &servertest.TailRequest{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	errc := make(chan error, 1)
	go func() {
		_, err := echo(context.Background(), c, &servertest.EchoRequest{})
		errc <- err
	}()
	<-entered
	c.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, client.ErrClosed) || err.Error() != "client: connection closed: "+path+": closed by client" {
			t.Fatalf("pending call after Close: %v", err)
		}
	case <-time.After(waitFor):
		t.Fatal("pending call not failed by Close")
	}
	if _, err := echo(context.Background(), c, &servertest.EchoRequest{}); !errors.Is(err, client.ErrClosed) || !strings.Contains(err.Error(), "closed by client") {
		t.Fatalf("after Close: %v, want ErrClosed saying the client closed it", err)
	}
	for i := range 2 {
		more <- i
		var f servertest.TailFrame
		if err := st.RecvInto(&f); err != nil || f.I != i {
			t.Fatalf("stream after Conn.Close: frame %+v, %v", f, err)
		}
	}
}

// TestCloseDuringCalls: closing a Conn while 32 goroutines call on it
// fails their calls with ErrClosed, without a race or a hang.
func TestCloseDuringCalls(t *testing.T) {
	leakCheck(t)
	_, path := start(t, nil)
	c, err := client.Dial(path, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errc := make(chan error, 32)
	var calls atomic.Int64
	for range 32 {
		wg.Go(func() {
			for {
				ctx, cancel := context.WithTimeout(context.Background(), waitFor)
				var resp servertest.EchoResponse
				err := c.Invoke(ctx, listInfo, nil, &resp)
				cancel()
				if err != nil {
					if !errors.Is(err, client.ErrClosed) {
						errc <- err
					}
					return
				}
				calls.Add(1)
			}
		})
	}
	for deadline := time.Now().Add(waitFor); calls.Load() < 64 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	c.Close()
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Errorf("call cut by Close: %v, want ErrClosed", err)
	}
}

// TestServerClosesConnection: a peer closing the socket fails calls with
// an error naming the cause.
func TestServerClosesConnection(t *testing.T) {
	leakCheck(t)
	path := filepath.Join(t.TempDir(), "raw.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		nc, err := l.Accept()
		if err == nil {
			var hdr [ipc.HeaderSize]byte
			io.ReadFull(nc, hdr[:])
			nc.Close()
		}
	}()
	c := dial(t, path, client.Options{})
	if _, err := echo(context.Background(), c, &servertest.EchoRequest{}); err == nil || !strings.Contains(err.Error(), "client: connection closed: ") {
		t.Fatalf("got %v", err)
	}
}

// TestCloseWhileOwnAnswerRead: Close while the caller is reading the body
// of its own answer (its call still pending: the reader takes it out only
// as it passes the role on) fails that call with the connection's error,
// at once, and later calls fail fast.
func TestCloseWhileOwnAnswerRead(t *testing.T) {
	leakCheck(t)
	p, path := listenPeer(t)
	c, err := client.Dial(path, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p.accept()
	ch := goEcho(context.Background(), c, "a")
	h := p.request()
	f := answer(h.SeqNo, "a")
	p.write(f[:ipc.HeaderSize+(len(f)-ipc.HeaderSize)/2])
	time.Sleep(50 * time.Millisecond) // the caller is blocked in the body's read
	begin := time.Now()
	c.Close()
	r := wait(t, ch, "call")
	if !errors.Is(r.err, client.ErrClosed) || !strings.Contains(r.err.Error(), "closed by client") || time.Since(begin) > slack {
		t.Fatalf("call whose answer was half read at Close: %v after %v; want ErrClosed, closed by client, at once", r.err, time.Since(begin))
	}
	if _, err := echo(context.Background(), c, &servertest.EchoRequest{ID: "b"}); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("call after Close: %v", err)
	}
}
