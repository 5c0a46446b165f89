package client_test

// Streams on their own connections: frames, the end, the context, Close, type mismatches.

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

// followOne is a Tail handler that sends one frame, then nothing, until the
// client goes away; it reports its context's end on gone.
func followOne(gone chan<- error) func(ctx context.Context, _ *servertest.TailRequest, s *server.Stream) error {
	return func(ctx context.Context, _ *servertest.TailRequest, s *server.Stream) error {
		if err := s.Send(servertest.MsgTailFrame, &servertest.TailFrame{I: 1}, false); err != nil {
			return err
		}
		<-ctx.Done()
		gone <- ctx.Err()
		return ctx.Err()
	}
}

func TestOpenStream(t *testing.T) {
	leakCheck(t)
	_, path := start(t, nil)
	c := dial(t, path, client.Options{})
	st, err := c.OpenStream(context.Background(), tailInfo, &servertest.TailRequest{N: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := range 4 {
		var f servertest.TailFrame
		if err := st.RecvInto(&f); err != nil || f.I != i || f.EOF != (i == 3) {
			t.Fatalf("frame %d: %+v, %v", i, f, err)
		}
	}
	// The conn itself is not dedicated to the stream.
	if _, err := echo(context.Background(), c, &servertest.EchoRequest{}); err != nil {
		t.Fatal(err)
	}
}

func TestStreamEndsWithEOF(t *testing.T) {
	leakCheck(t)
	_, path := start(t, &servertest.Handler{Tail: func(ctx context.Context, req *servertest.TailRequest, s *server.Stream) error {
		return s.Send(servertest.MsgTailFrame, &servertest.TailFrame{I: 9}, false) // then the server closes
	}})
	c := dial(t, path, client.Options{})
	st, err := c.OpenStream(context.Background(), tailInfo, &servertest.TailRequest{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var f servertest.TailFrame
	if err := st.RecvInto(&f); err != nil || f.I != 9 {
		t.Fatalf("%+v, %v", f, err)
	}
	if err := st.RecvInto(&f); err != io.EOF {
		t.Fatalf("after the server ended the stream: %v, want io.EOF", err)
	}
}

// blockedRecv opens a followed Tail stream with ctx whose handler sends one
// frame and then nothing, reads that frame, and starts a RecvInto that
// blocks; its result arrives on recvd, and the handler's context end on
// gone.
func blockedRecv(t *testing.T, ctx context.Context) (st *client.Stream, recvd, gone <-chan error) {
	t.Helper()
	g := make(chan error, 1)
	_, path := start(t, &servertest.Handler{Tail: followOne(g)})
	c := dial(t, path, client.Options{})
	st, err := c.OpenStream(ctx, tailInfo, &servertest.TailRequest{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if f := (servertest.TailFrame{}); st.RecvInto(&f) != nil || f.I != 1 {
		t.Fatalf("first frame %+v", f)
	}
	r := make(chan error, 1)
	go func() { r <- st.RecvInto(&servertest.TailFrame{}) }()
	return st, r, g
}

// expectGone waits for the server handler's context to end with an error.
func expectGone(t *testing.T, gone <-chan error) {
	t.Helper()
	select {
	case err := <-gone:
		if err == nil {
			t.Error("handler context ended without an error")
		}
	case <-time.After(waitFor):
		t.Fatal("server handler did not see the client go away")
	}
}

// TestStreamContext: the context given to OpenStream bounds the stream: a
// Recv waiting for a frame that never comes stays blocked (200 ms) until
// the context ends, then fails with its error; the server handler sees the
// client go away.
func TestStreamContext(t *testing.T) {
	leakCheck(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, recvd, gone := blockedRecv(t, ctx)
	select {
	case err := <-recvd:
		t.Fatalf("RecvInto returned %v with no frame sent", err)
	case <-time.After(200 * time.Millisecond):
	}
	cancel()
	select {
	case err := <-recvd:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("RecvInto: %v, want context.Canceled", err)
		}
	case <-time.After(waitFor):
		t.Fatal("RecvInto not unblocked by the context")
	}
	expectGone(t, gone)
}

// TestStreamCloseUnblocksRecv: Close from another goroutine ends a Recv
// blocked on a stream whose next frame never comes, with an error; the
// server handler sees the client go away.
func TestStreamCloseUnblocksRecv(t *testing.T) {
	leakCheck(t)
	st, recvd, gone := blockedRecv(t, context.Background())
	time.Sleep(50 * time.Millisecond) // let RecvInto block (it may also start after Close)
	st.Close()
	select {
	case err := <-recvd:
		if err == nil {
			t.Error("RecvInto after Close: nil, want an error")
		}
	case <-time.After(waitFor):
		t.Fatal("RecvInto still blocked after Close")
	}
	expectGone(t, gone)
}

func TestStreamFrameTypeMismatch(t *testing.T) {
	leakCheck(t)
	_, path := start(t, nil)
	c := dial(t, path, client.Options{})
	st, err := c.OpenStream(context.Background(), tailInfo, msgpRaw{0xC1}) // malformed: error response
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var te *client.ResponseTypeError
	if err := st.RecvInto(&servertest.TailFrame{}); !errors.As(err, &te) || te.Got != servertest.MsgStatus {
		t.Fatalf("got %v", err)
	}
}
