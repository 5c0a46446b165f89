package server_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
	"github.com/mgmtgen/mgmtgen/runtime/status"
)

// A call's envelope on an extended connection (envelope.go, callctx.go):
// the handler's context has the CallHeader's deadline and metadata and the
// connection's values, and ends by the call's Cancel, its deadline, the
// connection's end or the call's end, whether the handler waits on Done or
// only asks Err.

// extRaw dials path and says hello: the connection is extended.
func extRaw(t *testing.T, path string) *rawConn {
	t.Helper()
	r := dialRaw(t, path)
	r.sendMsg(ipc.MsgHello, 0, hello)
	if h, _ := r.next(); h.MsgType != ipc.MsgHelloAck {
		t.Fatalf("hello answered with %s", h.MsgType)
	}
	return r
}

// sendCall writes a CallHeader and an Echo request for seq, in one write,
// as a client does.
func (r *rawConn) sendCall(seq uint64, hdr *ipc.CallHeader, req *servertest.EchoRequest) {
	r.t.Helper()
	b, err := ipc.AppendMsgFrame(hdr.AppendFrame(nil, seq), ipc.Header{MsgType: servertest.MsgEcho, SeqNo: seq}, req)
	if err != nil {
		r.t.Fatal(err)
	}
	r.write(b)
}

// probe is an Echo handler that hands its context to the test and then, by
// the request's ID, waits for release ("hold"), for ctx.Done() ("done") or
// for ctx.Err() to turn non-nil without ever calling Done ("err"), at most
// 10 s, and reports ctx.Err() (nil: released or timed out).
type probe struct {
	ctxs    chan context.Context
	ended   chan error
	release chan struct{}
}

func newProbe() *probe {
	return &probe{ctxs: make(chan context.Context, 1), ended: make(chan error, 1), release: make(chan struct{})}
}

func (p *probe) handler() *servertest.Handler {
	return &servertest.Handler{Echo: func(ctx context.Context, req *servertest.EchoRequest) (*servertest.EchoResponse, error) {
		p.ctxs <- ctx
		giveUp := time.Now().Add(10 * time.Second)
		switch req.ID {
		case "hold":
			select {
			case <-p.release:
			case <-time.After(10 * time.Second):
			}
		case "done":
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Second):
			}
		case "err":
			for ctx.Err() == nil && time.Now().Before(giveUp) {
				time.Sleep(time.Millisecond)
			}
		}
		err := ctx.Err()
		p.ended <- err
		if err != nil {
			return nil, err
		}
		return servertest.DefaultEcho(ctx, req)
	}}
}

func (p *probe) ctx(t *testing.T) context.Context {
	t.Helper()
	return recvWithin(t, p.ctxs, "the handler")
}

func (p *probe) end(t *testing.T) error {
	t.Helper()
	return recvWithin(t, p.ended, "the handler's end")
}

func recvWithin[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// isClosed reports whether ch is closed, without waiting.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// The handler's context has the header's deadline and metadata, the
// connection's values (peer, Extended), no cause of its own, and ends,
// with every context derived from it, once the call is answered.
func TestCallContextCarriesHeader(t *testing.T) {
	leakCheck(t)
	p := newProbe()
	_, path := startServer(t, server.Options{}, p.handler())
	r := extRaw(t, path)
	r.sendCall(1, &ipc.CallHeader{Timeout: int64(30 * time.Second), Metadata: map[string]string{"rid": "7", "trace": "t"}}, &servertest.EchoRequest{ID: "hold", N: 3})
	ctx := p.ctx(t)
	d, ok := ctx.Deadline()
	if left := time.Until(d); !ok || left <= 25*time.Second || left > 30*time.Second {
		t.Errorf("deadline in %v (%v), want about 30 s", left, ok)
	}
	if md := server.Metadata(ctx); len(md) != 2 || md["rid"] != "7" || md["trace"] != "t" {
		t.Errorf("metadata %v", md)
	}
	if _, ok := server.PeerFromContext(ctx); !ok || !server.Extended(ctx) {
		t.Errorf("peer known %v, extended %v; want both", ok, server.Extended(ctx))
	}
	if err, cause := ctx.Err(), context.Cause(ctx); err != nil || cause != nil {
		t.Errorf("running call: Err %v, Cause %v", err, cause)
	}
	child, cancelChild := context.WithCancel(ctx)
	defer cancelChild()
	timed, cancelTimed := context.WithTimeout(ctx, time.Hour)
	defer cancelTimed()
	if d2, _ := timed.Deadline(); !d2.Equal(d) {
		t.Errorf("a derived hour-long timeout has deadline %v, want the call's %v", d2, d)
	}
	p.release <- struct{}{}
	if err := p.end(t); err != nil {
		t.Errorf("released handler saw %v", err)
	}
	if got := r.echo(1); got.N != 3 {
		t.Errorf("answer %+v", got)
	}
	for name, c := range map[string]context.Context{"call": ctx, "child": child, "timeout child": timed} {
		select {
		case <-c.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("%s context did not end after the call", name)
		}
		if !errors.Is(c.Err(), context.Canceled) || !errors.Is(context.Cause(c), context.Canceled) {
			t.Errorf("%s context after the call: Err %v, Cause %v; want Canceled", name, c.Err(), context.Cause(c))
		}
	}
	// A call without metadata has none, and no deadline without a timeout.
	r.sendCall(2, &ipc.CallHeader{}, &servertest.EchoRequest{ID: "hold"})
	ctx = p.ctx(t)
	if _, ok := ctx.Deadline(); ok || server.Metadata(ctx) != nil {
		t.Errorf("empty header: deadline %v, metadata %v", ok, server.Metadata(ctx))
	}
	p.release <- struct{}{}
	p.end(t)
	r.echo(2)
}

// Each way a call's context ends, seen by a handler that waits on Done and
// by one that only asks Err: the Cancel frame (Canceled), the deadline
// (DeadlineExceeded) and the connection's end (Canceled). Done and Err
// agree, and contexts and AfterFuncs derived from it end with it.
func TestCallContextEnds(t *testing.T) {
	leakCheck(t)
	for _, how := range []string{"cancel", "deadline", "hangup"} {
		for _, wait := range []string{"done", "err"} {
			t.Run(how+"/"+wait, func(t *testing.T) {
				p := newProbe()
				_, path := startServer(t, server.Options{}, p.handler())
				r := extRaw(t, path)
				hdr := &ipc.CallHeader{Timeout: int64(time.Hour)}
				want, code := error(context.Canceled), status.Canceled
				if how == "deadline" {
					hdr.Timeout = int64(20 * time.Millisecond)
					want, code = context.DeadlineExceeded, status.DeadlineExceeded
				}
				r.sendCall(5, hdr, &servertest.EchoRequest{ID: wait})
				ctx := p.ctx(t)
				// The "err" handler never calls Done: nothing may watch its
				// context before its end, so derived ones come after it.
				var (
					fired         chan struct{}
					stopped       func() bool
					child         context.Context
					derive, check func()
				)
				derive = func() {
					fired = make(chan struct{})
					stopped = context.AfterFunc(ctx, func() { close(fired) })
					var cancelChild context.CancelFunc
					child, cancelChild = context.WithCancel(ctx)
					t.Cleanup(cancelChild)
				}
				check = func() {
					recvWithin(t, fired, "the AfterFunc")
					if stopped() {
						t.Error("stopping an AfterFunc that ran reported true")
					}
					recvWithin(t, child.Done(), "the derived context")
					if !errors.Is(child.Err(), want) {
						t.Errorf("derived context: %v, want %v", child.Err(), want)
					}
				}
				if wait == "done" {
					derive()
					never := context.AfterFunc(ctx, func() { t.Error("a stopped AfterFunc ran") })
					if !never() {
						t.Error("stopping an AfterFunc of a running call reported false")
					}
				}
				switch how {
				case "cancel":
					r.send(ipc.MsgCancel, 5, nil)
				case "hangup":
					r.nc.Close()
				}
				if err := p.end(t); !errors.Is(err, want) {
					t.Fatalf("handler saw %v, want %v", err, want)
				}
				if !isClosed(ctx.Done()) || !errors.Is(ctx.Err(), want) {
					t.Errorf("after the end: Done closed %v, Err %v", isClosed(ctx.Done()), ctx.Err())
				}
				if wait == "err" {
					derive()
				}
				check()
				if how == "hangup" {
					return
				}
				if st := r.errorFrame(5); status.Code(st.Code) != code {
					t.Errorf("answer %+v, want code %s", st, code)
				}
				r.send(servertest.MsgList, 6, nil) // the connection goes on
				if got := r.echo(6); got.N != servertest.ListN {
					t.Errorf("List after the end: %+v", got)
				}
			})
		}
	}
}

// A Cancel after its call ended, or for a seq never seen, is ignored.
func TestCancelUnknownSeq(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{}, nil)
	r := extRaw(t, path)
	r.sendCall(1, &ipc.CallHeader{Timeout: int64(time.Minute)}, &servertest.EchoRequest{ID: "a"})
	r.echo(1)
	r.send(ipc.MsgCancel, 1, nil)
	r.send(ipc.MsgCancel, 99, nil)
	r.send(servertest.MsgList, 2, nil)
	if got := r.echo(2); got.N != servertest.ListN {
		t.Errorf("List after the Cancels: %+v", got)
	}
}

// Many goroutines using one call's context while its Cancel arrives: run
// under -race, every one of them sees the same end.
func TestCallContextConcurrentUse(t *testing.T) {
	leakCheck(t)
	p := newProbe()
	_, path := startServer(t, server.Options{}, p.handler())
	r := extRaw(t, path)
	r.sendCall(1, &ipc.CallHeader{Timeout: int64(time.Hour)}, &servertest.EchoRequest{ID: "hold"})
	ctx := p.ctx(t)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	start := make(chan struct{})
	for i := range 32 {
		wg.Go(func() {
			<-start
			switch i % 4 {
			case 0:
				<-ctx.Done()
			case 1:
				for ctx.Err() == nil {
					time.Sleep(time.Millisecond)
				}
			case 2:
				done := make(chan struct{})
				context.AfterFunc(ctx, func() { close(done) })
				<-done
			case 3:
				c, cancel := context.WithTimeout(ctx, time.Hour)
				defer cancel()
				<-c.Done()
			}
			errs <- ctx.Err()
		})
	}
	close(start)
	r.send(ipc.MsgCancel, 1, nil)
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("a user of the context saw %v", err)
		}
	}
	p.release <- struct{}{} // the handler saw the cancel only through its release
	p.end(t)
	if st := r.errorFrame(1); status.Code(st.Code) != status.Canceled {
		t.Errorf("answer %+v", st)
	}
}

// A call with a CallHeader is served inline (by a qualified method) only
// when its header has a deadline: one that can end only by its Cancel runs
// on a handler goroutine, so the reader stays free to read that Cancel.
// The method qualifies on one connection (qualification is the method's);
// each checked call is the first request of a fresh connection, so it is
// alone for sure.
func TestInlineCallHeader(t *testing.T) {
	leakCheck(t)
	b := newGatedEcho()
	_, path := startServer(t, server.Options{MaxInlineCall: inlineTestLimit}, b.handler())
	warm := extRaw(t, path)
	var seq uint64
	warmUp(warm, &seq, 8)
	r := extRaw(t, path)
	r.sendCall(100, &ipc.CallHeader{Timeout: int64(time.Minute)}, &servertest.EchoRequest{ID: "block"})
	b.waitStarted(t)
	r.sendMsg(servertest.MsgEcho, 101, &servertest.EchoRequest{ID: "behind"})
	expectNothing(t, r, 2*inlineTestLimit)
	b.release <- struct{}{}
	r.echo(100)
	r.echo(101)

	warmUp(warm, &seq, 8) // the slow call disqualified the method
	r = extRaw(t, path)
	r.sendCall(102, &ipc.CallHeader{Metadata: map[string]string{"k": "v"}}, &servertest.EchoRequest{ID: "block"})
	b.waitStarted(t)
	r.sendMsg(servertest.MsgEcho, 103, &servertest.EchoRequest{ID: "free"})
	if got := r.echo(103); got.ID != "free" {
		t.Fatalf("got %+v", got)
	}
	b.release <- struct{}{}
	r.echo(102)
}
