package client_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

// TestMaxPendingCalls: past the limit a call waits for a slot, bounded by
// its context, without sending anything; it goes on once a slot frees.
func TestMaxPendingCalls(t *testing.T) {
	leakCheck(t)
	entered := make(chan string, 8)
	release := make(chan struct{})
	_, path := start(t, &servertest.Handler{Echo: func(ctx context.Context, req *servertest.EchoRequest) (*servertest.EchoResponse, error) {
		entered <- req.ID
		<-release
		return &servertest.EchoResponse{ID: req.ID}, nil
	}})
	c := dial(t, path, client.Options{MaxPendingCalls: 2})
	first := goEcho(context.Background(), c, "1")
	second := goEcho(context.Background(), c, "2")
	for range 2 {
		select {
		case <-entered:
		case <-time.After(waitFor):
			t.Fatal("the first two calls did not reach the server")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	begin := time.Now()
	if _, err := echo(ctx, c, &servertest.EchoRequest{ID: "over"}); !errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, client.ErrClosed) || time.Since(begin) > 100*time.Millisecond+slack {
		t.Fatalf("third call: %v after %v; want DeadlineExceeded after 100ms", err, time.Since(begin))
	}
	third := goEcho(context.Background(), c, "3")
	select {
	case id := <-entered:
		t.Fatalf("call %q reached the server with both slots taken", id)
	case r := <-third:
		t.Fatalf("third call returned with both slots taken: %v", r.err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	for i, ch := range []<-chan result{first, second, third} {
		if r := wait(t, ch, "call"); r.err != nil || r.resp.ID != []string{"1", "2", "3"}[i] {
			t.Fatalf("call %d: %+v, %v", i+1, r.resp, r.err)
		}
	}
	if id := <-entered; id != "3" {
		t.Fatalf("server saw %q, want the third call only", id)
	}
}

// TestGoroutinesBounded: 64 calls pending on one Conn cost the callers'
// goroutines and at most a constant more (the flush goroutine).
func TestGoroutinesBounded(t *testing.T) {
	leakCheck(t)
	p, path := listenPeer(t)
	c := dial(t, path, client.Options{})
	p.accept()
	before := runtime.NumGoroutine()
	const n = 64
	results := make([]<-chan result, n)
	for i := range n {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // AfterFuncs armed
		defer cancel()
		results[i] = goEcho(ctx, c, "x")
	}
	seqs := make([]uint64, n)
	for i := range n {
		seqs[i] = p.request().SeqNo
	}
	if extra := runtime.NumGoroutine() - before; extra > n+2 {
		t.Errorf("%d goroutines for %d pending calls; want at most %d", extra, n, n+2)
	}
	var all []byte
	for _, s := range seqs {
		all = append(all, answer(s, "x")...)
	}
	p.write(all)
	for _, ch := range results {
		if r := wait(t, ch, "call"); r.err != nil {
			t.Fatal(r.err)
		}
	}
}

// TestOwnAnswerFreesItsSlot: a caller that reads its own answer (the
// reading role's holder, which takes its call out of the pending set only
// as it passes the role on) frees its slot: with one slot, calls one after
// the other and from two goroutines at once all go through.
func TestOwnAnswerFreesItsSlot(t *testing.T) {
	leakCheck(t)
	_, path := start(t, &servertest.Handler{})
	c := dial(t, path, client.Options{MaxPendingCalls: 1})
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		_, err := echo(ctx, c, &servertest.EchoRequest{ID: "seq"})
		cancel()
		if err != nil {
			t.Fatalf("call %d one after the other: %v", i+1, err)
		}
	}
	errc := make(chan error, 2)
	for range 2 {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			for range 50 {
				if _, err := echo(ctx, c, &servertest.EchoRequest{ID: "par"}); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	for range 2 {
		if err := <-errc; err != nil {
			t.Fatalf("calls from two goroutines on one slot: %v", err)
		}
	}
}
