package client

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

// Tests of the write queue that need to see it: a Conn on one end of a
// net.Pipe, whose writes block until the test reads the other end.

// writeLog records the Write calls made on a net.Conn.
type writeLog struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
}

func (w *writeLog) Write(b []byte) (int, error) {
	w.mu.Lock()
	w.writes = append(w.writes, append([]byte(nil), b...))
	w.mu.Unlock()
	return w.Conn.Write(b)
}

func pipeConn(t *testing.T, opts Options) (*Conn, *writeLog, net.Conn) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	cc, sc := net.Pipe()
	wl := &writeLog{Conn: cc}
	opts.setDefaults()
	c := newConn(wl, "pipe", opts)
	t.Cleanup(func() { c.Close(); sc.Close() })
	return c, wl, sc
}

// until polls cond (under c.mu) until it holds, failing after 5 s.
func until(t *testing.T, c *Conn, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		c.mu.Lock()
		ok := cond()
		c.mu.Unlock()
		if ok {
			return
		}
	}
	t.Fatalf("timed out waiting until %s", what)
}

var pipeEcho = &CallInfo{Method: "Echo", Request: servertest.MsgEcho, Response: servertest.MsgEchoResponse}

func goCall(c *Conn, ctx context.Context, id string) <-chan error {
	ch := make(chan error, 1)
	go func() {
		var resp servertest.EchoResponse
		err := c.Invoke(ctx, pipeEcho, &servertest.EchoRequest{ID: id}, &resp)
		if err == nil && resp.ID != id {
			err = errors.New("answered " + resp.ID + ", want " + id)
		}
		ch <- err
	}()
	return ch
}

// serveAll reads n request frames from sc and answers them all in one write.
func serveAll(t *testing.T, sc net.Conn, n int) {
	fr := ipc.NewFrameReader(sc, 0)
	var out []byte
	for range n {
		h, body, err := fr.ReadFrame()
		if err != nil {
			t.Errorf("server: %v", err)
			return
		}
		var req servertest.EchoRequest
		ipc.DecodePayload(body, &req)
		out, _ = ipc.AppendMsgFrame(out, ipc.Header{MsgType: servertest.MsgEchoResponse, SeqNo: h.SeqNo}, &servertest.EchoResponse{ID: req.ID})
	}
	sc.Write(out)
}

// TestCoalescedWrites: requests that queue behind a blocked write go out
// together in one Write, in seq order.
func TestCoalescedWrites(t *testing.T) {
	c, wl, sc := pipeConn(t, Options{})
	const n = 10
	errs := []<-chan error{goCall(c, context.Background(), "0")}
	until(t, c, "the first call writes", func() bool { return c.wbusy })
	for i := 1; i < n; i++ {
		errs = append(errs, goCall(c, context.Background(), string(rune('0'+i))))
	}
	until(t, c, "all calls are pending", func() bool { return c.pending.len() == n })
	go serveAll(t, sc, n)
	for _, ch := range errs {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	wl.mu.Lock()
	defer wl.mu.Unlock()
	if len(wl.writes) != 2 {
		t.Fatalf("%d writes for %d requests; want 2 (the first, then the rest together)", len(wl.writes), n)
	}
	fr := ipc.NewFrameReader(strings.NewReader(string(wl.writes[1])), 0)
	for seq := uint64(2); seq <= n; seq++ {
		h, _, err := fr.ReadFrame()
		if err != nil || h.SeqNo != seq {
			t.Fatalf("coalesced write: frame %+v, %v; want seq %d", h, err, seq)
		}
	}
	if _, _, err := fr.ReadFrame(); err != io.EOF {
		t.Fatalf("coalesced write: trailing bytes: %v", err)
	}
}

// TestMaxQueuedBytes: while the server does not read, requests queue up to
// the budget; one that does not fit waits, bounded by its context, and is
// sent once the queue drains.
func TestMaxQueuedBytes(t *testing.T) {
	const budget = 1000
	c, _, sc := pipeConn(t, Options{MaxQueuedBytes: budget})
	first := goCall(c, context.Background(), "first")
	until(t, c, "the first call writes", func() bool { return c.wbusy })
	queued := goCall(c, context.Background(), strings.Repeat("q", 500))
	until(t, c, "the second call is queued", func() bool { return len(c.wq) > 500 })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	begin := time.Now()
	var resp servertest.EchoResponse
	err := c.Invoke(ctx, pipeEcho, &servertest.EchoRequest{ID: strings.Repeat("w", 600)}, &resp)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(begin) > time.Second {
		t.Fatalf("over the budget: %v after %v; want DeadlineExceeded after 100ms", err, time.Since(begin))
	}
	c.mu.Lock()
	queuedBytes, pending := len(c.wq), c.pending.len()
	c.mu.Unlock()
	if queuedBytes > budget || pending != 2 {
		t.Fatalf("%d bytes queued, %d calls pending; want <= %d and 2", queuedBytes, pending, budget)
	}
	waiting := goCall(c, context.Background(), strings.Repeat("w", 600))
	go serveAll(t, sc, 3)
	for _, ch := range []<-chan error{first, queued, waiting} {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
}
