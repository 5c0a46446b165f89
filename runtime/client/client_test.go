package client_test

// Calls on one Conn: answers matched by seq, deadlines, contexts, mismatched answers,
// interceptors, the response size limit, the untyped cliwrap API, dial errors.

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

func TestInvoke(t *testing.T) {
	leakCheck(t)
	_, path := start(t, nil)
	c := dial(t, path, client.Options{})
	resp, err := echo(context.Background(), c, &servertest.EchoRequest{ID: "a", N: 5})
	if err != nil || resp.ID != "a" || resp.N != 5 {
		t.Fatalf("got %+v, %v", resp, err)
	}
	var list servertest.EchoResponse
	if err := c.Invoke(context.Background(), listInfo, nil, &list); err != nil || list.N != servertest.ListN {
		t.Fatalf("List: %+v, %v", list, err)
	}
}

// TestConcurrentCalls shares one connection between 64 goroutines making
// 200 calls each and checks every answer against its request.
func TestConcurrentCalls(t *testing.T) {
	leakCheck(t)
	_, path := start(t, nil)
	c := dial(t, path, client.Options{})
	var wg sync.WaitGroup
	errc := make(chan error, 64)
	for g := range 64 {
		wg.Go(func() {
			for i := range 200 {
				id := fmt.Sprintf("g%d-%d", g, i)
				resp, err := echo(context.Background(), c, &servertest.EchoRequest{ID: id, N: g*1000 + i})
				if err != nil {
					errc <- err
					return
				}
				if resp.ID != id || resp.N != g*1000+i {
					errc <- fmt.Errorf("request %s/%d answered with %s/%d", id, g*1000+i, resp.ID, resp.N)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
}

// TestDeadline: a call past its deadline returns DeadlineExceeded promptly;
// the connection stays usable while the slow call runs, and its late answer
// is discarded, not mistaken for a later call's; a cancelled context fails
// before sending.
func TestDeadline(t *testing.T) {
	leakCheck(t)
	entered, release, done := make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	_, path := start(t, &servertest.Handler{Echo: func(ctx context.Context, req *servertest.EchoRequest) (*servertest.EchoResponse, error) {
		if req.ID == "slow" {
			entered <- struct{}{}
			<-release // deaf to ctx: its answer comes late
			defer close(done)
		}
		return servertest.DefaultEcho(ctx, req)
	}})
	c := dial(t, path, client.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	begin := time.Now()
	_, err := echo(ctx, c, &servertest.EchoRequest{ID: "slow"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(begin); d > 200*time.Millisecond {
		t.Fatalf("returned after %v", d)
	}
	select {
	case <-entered:
	case <-time.After(waitFor):
		t.Fatal("the slow handler never ran")
	}
	// Other calls go on during the slow one, and after its late answer.
	next := func(i int) {
		t.Helper()
		resp, err := echo(context.Background(), c, &servertest.EchoRequest{ID: "next", N: i})
		if err != nil || resp.ID != "next" || resp.N != i {
			t.Fatalf("call %d after the deadline: %+v, %v", i, resp, err)
		}
	}
	next(0)
	close(release)
	<-done
	for i := range 5 {
		next(i + 1)
	}
	// A cancelled context fails before sending.
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	if _, err := echo(cctx, c, &servertest.EchoRequest{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

func TestResponseTypeMismatch(t *testing.T) {
	leakCheck(t)
	_, path := start(t, nil)
	c := dial(t, path, client.Options{})
	info := &client.CallInfo{Method: "Echo", Request: servertest.MsgEcho, Response: 0xAE}
	err := c.Invoke(context.Background(), info, &servertest.EchoRequest{}, &servertest.EchoResponse{})
	var te *client.ResponseTypeError
	if !errors.As(err, &te) || te.Got != servertest.MsgEchoResponse || te.Want != 0xAE ||
		err.Error() != "client: Echo: unexpected response type 0xa1, want 0xae" {
		t.Fatalf("got %v", err)
	}
	// An error response (unknown type) is a mismatch as well; the
	// connection stays usable.
	err = c.Invoke(context.Background(), &client.CallInfo{Method: "X", Request: 0x7F, Response: 0xA1}, nil, nil)
	if !errors.As(err, &te) || te.Got != servertest.MsgStatus {
		t.Fatalf("got %v", err)
	}
	if _, err := echo(context.Background(), c, &servertest.EchoRequest{}); err != nil {
		t.Fatal(err)
	}
}

func TestInterceptors(t *testing.T) {
	leakCheck(t)
	_, path := start(t, nil)
	var trace []string
	unary := func(name string) client.UnaryInterceptor {
		return func(ctx context.Context, info *client.CallInfo, req msgp.Marshaler, resp msgp.Unmarshaler, next client.Invoker) error {
			trace = append(trace, name+">"+info.Method)
			err := next(ctx, req, resp)
			trace = append(trace, name+"<")
			return err
		}
	}
	stream := func(ctx context.Context, info *client.CallInfo, req msgp.Marshaler, next client.Streamer) (*client.Stream, error) {
		trace = append(trace, "s>"+info.Method)
		return next(ctx, req)
	}
	c := dial(t, path, client.Options{
		UnaryInterceptors:  []client.UnaryInterceptor{unary("a"), unary("b")},
		StreamInterceptors: []client.StreamInterceptor{stream},
	})
	if _, err := echo(context.Background(), c, &servertest.EchoRequest{}); err != nil {
		t.Fatal(err)
	}
	st, err := c.OpenStream(context.Background(), tailInfo, &servertest.TailRequest{N: 1})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if got := strings.Join(trace, " "); got != "a>Echo b>Echo b< a< s>Tail" {
		t.Fatalf("trace %q", got)
	}
}

type msgpRaw []byte

func (m msgpRaw) MarshalMsg(b []byte) ([]byte, error) { return append(b, m...), nil }

// TestUntyped exercises cliwrap's Call, Stream and ReadFrame.
func TestUntyped(t *testing.T) {
	leakCheck(t)
	_, path := start(t, nil)
	c := dial(t, path, client.Options{})
	h, body, err := c.Call(servertest.MsgList, nil)
	if err != nil || h.MsgType != servertest.MsgEchoResponse || h.SeqNo != 1 {
		t.Fatalf("List: %+v, %v", h, err)
	}
	var resp servertest.EchoResponse
	if err := ipc.DecodePayload(body, &resp); err != nil || resp.N != servertest.ListN {
		t.Fatalf("List body: %+v, %v", resp, err)
	}
	raw, _ := (&servertest.EchoRequest{ID: "raw"}).MarshalMsg(nil)
	if h, body, err = c.Call(servertest.MsgEcho, raw); err != nil || h.SeqNo != 2 {
		t.Fatalf("raw Echo: %+v, %v", h, err)
	}
	if err := ipc.DecodePayload(body, &resp); err != nil || resp.ID != "raw" {
		t.Fatalf("raw Echo body: %+v, %v", resp, err)
	}
	if h, _, err = c.Call(servertest.MsgEcho, &servertest.EchoRequest{ID: "m"}); err != nil || h.SeqNo != 3 {
		t.Fatalf("Echo: %+v, %v", h, err)
	}
	if _, _, err := c.Call(servertest.MsgEcho, 42); err == nil {
		t.Fatal("Call accepted an int payload")
	}
	if err := c.Stream(servertest.MsgTail, &servertest.TailRequest{N: 2, Follow: true}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		h, body, err := c.ReadFrame()
		var f servertest.TailFrame
		if err != nil || h.MsgType != servertest.MsgTailFrame || ipc.DecodePayload(body, &f) != nil || f.I != i {
			t.Fatalf("frame %d: %+v %+v %v", i, h, f, err)
		}
	}
	if _, _, err := c.Call(servertest.MsgList, nil); err == nil {
		t.Fatal("Call on a stream connection succeeded")
	}
}

func TestDialErrors(t *testing.T) {
	leakCheck(t)
	path := filepath.Join(t.TempDir(), "none.sock")
	if _, err := client.Dial(path, client.Options{}); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Dial: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := client.DialContext(ctx, path, client.Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("DialContext with a cancelled ctx: %v", err)
	}
}

// TestOversizedResponse: a response over MaxPayload breaks the connection.
func TestOversizedResponse(t *testing.T) {
	leakCheck(t)
	_, path := start(t, nil)
	c := dial(t, path, client.Options{MaxPayload: 64})
	_, err := echo(context.Background(), c, &servertest.EchoRequest{ID: strings.Repeat("x", 100)})
	if !errors.Is(err, ipc.ErrFrameTooLarge) || !errors.Is(err, client.ErrClosed) {
		t.Fatalf("got %v, want a broken connection (ErrClosed) wrapping ipc.ErrFrameTooLarge", err)
	}
}

// TestCallContext: the untyped call with a context returns at its end,
// leaves the connection usable, and fails at once on an ended context.
func TestCallContext(t *testing.T) {
	leakCheck(t)
	_, path := start(t, nil)
	c := dial(t, path, client.Options{})
	slow, _ := (&servertest.EchoRequest{ID: "slow", Sleep: 2 * time.Second}).MarshalMsg(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	begin := time.Now()
	if _, _, err := c.CallContext(ctx, servertest.MsgEcho, slow); !errors.Is(err, context.DeadlineExceeded) ||
		time.Since(begin) > 100*time.Millisecond+slack {
		t.Fatalf("CallContext: %v after %v; want DeadlineExceeded after 100ms", err, time.Since(begin))
	}
	h, body, err := c.CallContext(context.Background(), servertest.MsgEcho, &servertest.EchoRequest{ID: "next"})
	var resp servertest.EchoResponse
	if err != nil || h.SeqNo != 2 || ipc.DecodePayload(body, &resp) != nil || resp.ID != "next" {
		t.Fatalf("CallContext after a deadline: %+v %+v %v", h, resp, err)
	}
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	if _, _, err := c.CallContext(cctx, servertest.MsgList, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("CallContext with an ended context: %v", err)
	}
}
