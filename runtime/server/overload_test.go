package server_test

// Budgets per connection: request bytes queued, calls in flight, streams per server.

import (
	"context"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

// blockingEcho is an Echo handler that counts the calls running at once
// and holds each until release is closed.
type blockingEcho struct {
	running, peak atomic.Int64
	release       chan struct{}
}

func (b *blockingEcho) echo(ctx context.Context, req *servertest.EchoRequest) (*servertest.EchoResponse, error) {
	n := b.running.Add(1)
	defer b.running.Add(-1)
	for p := b.peak.Load(); n > p && !b.peak.CompareAndSwap(p, n); p = b.peak.Load() {
	}
	<-b.release
	return &servertest.EchoResponse{N: req.N}, nil
}

// MaxRequestBytesPerConn: large requests whose handlers do not return are
// admitted only while their bytes fit the budget; the connection then reads
// nothing (backpressure), so the server's heap grows by at most the budget
// plus 1 MiB of slack, however many the client sends (old runtime: every
// request read and held). Released, every request is answered.
func TestBudgetRequestBytes(t *testing.T) {
	leakCheck(t)
	const budget, size, n = 4 << 20, 1 << 20, 24
	b := &blockingEcho{release: make(chan struct{})}
	_, path := startServer(t, server.Options{MaxRequestBytesPerConn: budget}, &servertest.Handler{Echo: b.echo})
	c := dialRaw(t, path)
	big := seedFrame(servertest.MsgEcho, 1, &servertest.EchoRequest{ID: strings.Repeat("x", size)})
	var all []byte
	for i := range n {
		f := seedFrame(servertest.MsgEcho, uint64(i+1), &servertest.EchoRequest{ID: strings.Repeat("x", size), N: i})
		all = append(all, f...)
	}
	base := liveHeap()
	// Write until the socket takes no more, and at least the requests the
	// budget admits (and the next header) are sent: on a loaded machine a
	// write can stall for a while before the server has read them.
	admitted := budget / int64(len(big))
	need := int(admitted)*len(big) + ipc.HeaderSize
	sent := writeUntilBlocked(t, c.nc, all, 1)
	for deadline := time.Now().Add(10 * time.Second); sent < need; {
		if time.Now().After(deadline) {
			t.Fatalf("the server took %d bytes, not the %d of the requests its budget admits", sent, need)
		}
		sent += writeUntilBlocked(t, c.nc, all[sent:], 1)
	}
	waitFor(t, "the admitted calls to start", func() bool { return b.running.Load() == admitted })
	grown := int64(liveHeap()) - int64(base)
	t.Logf("%d bytes sent; %d calls admitted (budget %d, requests of %d bytes); server heap +%d bytes",
		sent, b.running.Load(), budget, len(big), grown)
	if grown > budget+1<<20 {
		t.Errorf("heap grew by %d bytes, want at most the budget %d + 1 MiB", grown, budget)
	}
	if p := b.peak.Load(); p*int64(len(big)) > budget {
		t.Errorf("%d calls of %d bytes ran at once, over the budget %d", p, len(big), budget)
	}
	close(b.release)
	c.nc.SetWriteDeadline(time.Time{})
	go c.nc.Write(all[sent:])
	for range n {
		c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, _, err := c.fr.ReadFrame(); err != nil {
			t.Fatal(err)
		}
	}
	runtime.KeepAlive(all)
}

// One request larger than MaxRequestBytesPerConn is still served, alone.
func TestBudgetLargeRequestAlone(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{MaxRequestBytesPerConn: 1024}, nil)
	c := dialRaw(t, path)
	c.sendMsg(servertest.MsgEcho, 1, &servertest.EchoRequest{ID: strings.Repeat("y", 64<<10)})
	c.sendMsg(servertest.MsgEcho, 2, &servertest.EchoRequest{ID: "small"})
	if got := c.echo(1); len(got.ID) != 64<<10 {
		t.Fatalf("got %d bytes back", len(got.ID))
	}
	if got := c.echo(2); got.ID != "small" {
		t.Fatalf("got %+v", got)
	}
}

// MaxCallsPerConn counts every path: unary calls and unknown requests
// alike; at the limit nothing more is read.
func TestBudgetCallsPerConn(t *testing.T) {
	leakCheck(t)
	const limit = 4
	b := &blockingEcho{release: make(chan struct{})}
	_, path := startServer(t, server.Options{MaxCallsPerConn: limit}, &servertest.Handler{Echo: b.echo})
	c := dialRaw(t, path)
	for i := range 3 * limit {
		c.sendMsg(servertest.MsgEcho, uint64(i+1), &servertest.EchoRequest{N: i})
	}
	waitFor(t, "the calls to start", func() bool { return b.running.Load() == limit })
	c.send(0x7F, 100, nil) // unknown: not read while the slots are taken
	c.nc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if h, _, err := c.fr.ReadFrame(); err == nil {
		t.Fatalf("answer %s seq %d while every call slot is taken", h.MsgType, h.SeqNo)
	}
	if p := b.peak.Load(); p != limit {
		t.Fatalf("%d calls ran at once, want %d", p, limit)
	}
	close(b.release)
	seen := map[uint64]bool{}
	for range 3*limit + 1 {
		c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		h, _, err := c.fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		seen[h.SeqNo] = true
	}
	if !seen[100] || len(seen) != 3*limit+1 {
		t.Fatalf("answered %v", seen)
	}
	if p := b.peak.Load(); p > limit {
		t.Fatalf("%d calls ran at once, want at most %d", p, limit)
	}
}

// MaxStreams: a stream request over the server's limit is answered with
// the error response and the connection goes on; once a stream ends, a new
// one is accepted.
func TestBudgetMaxStreams(t *testing.T) {
	leakCheck(t)
	ended := make(chan error, 1)
	_, path := startServer(t, server.Options{MaxStreams: 1}, &servertest.Handler{Tail: followUntilGone(ended)})
	first := dialRaw(t, path)
	first.sendMsg(servertest.MsgTail, 1, &servertest.TailRequest{Follow: true})
	first.tailFrame()
	second := dialRaw(t, path)
	second.sendMsg(servertest.MsgTail, 7, &servertest.TailRequest{Follow: true})
	if got := second.status(7); got != "server: too many streams (limit 1); try again later" {
		t.Fatalf("got %q", got)
	}
	second.send(servertest.MsgList, 8, nil)
	second.echo(8)
	first.nc.Close()
	<-ended
	waitFor(t, "a stream slot", func() bool {
		second.sendMsg(servertest.MsgTail, 9, &servertest.TailRequest{Follow: true})
		h, _ := second.next()
		return h.MsgType == servertest.MsgTailFrame
	})
}
