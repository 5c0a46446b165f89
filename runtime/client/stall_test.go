package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

// The server stalls in the middle of a frame: a call's deadline still
// holds, the connection is poisoned (closed, every pending call failed with
// the reason, later calls failed at once).

const stallDeadline = 200 * time.Millisecond

// stalledPair starts call a (stallDeadline) and call b (no deadline) on a
// fresh Conn to a scripted peer and reads both requests; it returns the
// peer, the Conn, the results, a's seq, and when a's deadline was set.
// With aFirst, a is sent first and most likely reads for both; else b.
func stalledPair(t *testing.T, aFirst bool) (p *peer, c *client.Conn, a, b <-chan result, seqA, seqB uint64, begin time.Time) {
	p, path := listenPeer(t)
	c = dial(t, path, client.Options{})
	p.accept()
	ctx, cancel := context.WithTimeout(context.Background(), stallDeadline)
	t.Cleanup(cancel)
	if !aFirst {
		b = goEcho(context.Background(), c, "b")
		seqB = p.request().SeqNo
	}
	begin = time.Now()
	a = goEcho(ctx, c, "a")
	seqA = p.request().SeqNo
	if aFirst {
		b = goEcho(context.Background(), c, "b")
		seqB = p.request().SeqNo
	}
	return p, c, a, b, seqA, seqB, begin
}

// orders runs f with a sent first, then with b sent first.
func orders(t *testing.T, f func(t *testing.T, aFirst bool)) {
	t.Run("a-first", func(t *testing.T) { f(t, true) })
	t.Run("b-first", func(t *testing.T) { f(t, false) })
}

// checkPoisoned asserts what every stall test expects once a's deadline
// passed in the middle of a frame: a returned in time with its deadline's
// error (and, when it was the call reading, the broken connection's), b
// failed promptly with the reason, and a later call fails at once.
func checkPoisoned(t *testing.T, p *peer, c *client.Conn, a, b <-chan result, begin time.Time, reason string) {
	t.Helper()
	ra := wait(t, a, "call a")
	if took := time.Since(begin); took > stallDeadline+slack {
		t.Errorf("call a returned after %v; deadline %v", took, stallDeadline)
	}
	failedAt := time.Now()
	rb := wait(t, b, "call b")
	if d := time.Since(failedAt); d > slack {
		t.Errorf("pending call b failed %v after a returned", d)
	}
	var se *client.StallError
	if !errors.As(rb.err, &se) || se.Method != "Echo" || !errors.Is(rb.err, client.ErrClosed) {
		t.Fatalf("pending call b: %v; want a *StallError naming Echo", rb.err)
	}
	// What was measured: a's deadline, the time it waited, the bytes.
	if se.Timeout <= 0 || se.Timeout > stallDeadline || se.Waited < se.Timeout || se.Waited > stallDeadline+slack {
		t.Errorf("stall: waited %v, timeout %v; want about the %v deadline", se.Waited, se.Timeout, stallDeadline)
	}
	want := rb.err.Error()
	text := fmt.Sprintf("client: connection closed: %s: Echo: context deadline exceeded after waiting %v (timeout %v), with %s",
		p.l.Addr(), se.Waited.Round(time.Millisecond), se.Timeout.Round(time.Millisecond), reason)
	if want != text {
		t.Errorf("pending call b: %q; want %q", want, text)
	}
	if !errors.Is(ra.err, context.DeadlineExceeded) ||
		errors.Is(ra.err, client.ErrClosed) && ra.err.Error() != want {
		t.Errorf("call a: %v; want DeadlineExceeded (and %q if broken)", ra.err, want)
	}
	if errors.Is(rb.err, context.DeadlineExceeded) {
		t.Errorf("pending call b has no deadline but its error matches DeadlineExceeded: %v", rb.err)
	}
	later := time.Now()
	_, err := echo(context.Background(), c, &servertest.EchoRequest{ID: "later"})
	if err == nil || err.Error() != want || time.Since(later) > slack {
		t.Errorf("later call: %v after %v; want %q at once", err, time.Since(later), want)
	}
	// The peer sees the connection closed.
	p.nc.SetReadDeadline(time.Now().Add(waitFor))
	if n, err := p.nc.Read(make([]byte, 64)); err == nil {
		t.Errorf("peer read %d bytes from a poisoned connection, want EOF", n)
	}
}

// TestStallHalfHeader: half a header, whichever call it answers, stalls
// the connection for every call.
func TestStallHalfHeader(t *testing.T) {
	orders(t, func(t *testing.T, aFirst bool) {
		leakCheck(t)
		p, c, a, b, seqA, _, begin := stalledPair(t, aFirst)
		p.write(answer(seqA, "a")[:8])
		checkPoisoned(t, p, c, a, b, begin, "8 of the 17 bytes of a response header received and no more at hand")
	})
}

// TestStallHalfBody: half of a's answer, then nothing.
func TestStallHalfBody(t *testing.T) {
	orders(t, func(t *testing.T, aFirst bool) {
		leakCheck(t)
		p, c, a, b, seqA, _, begin := stalledPair(t, aFirst)
		f := answer(seqA, "a")
		half := ipc.HeaderSize + (len(f)-ipc.HeaderSize)/2
		p.write(f[:half])
		reason := fmt.Sprintf("%d of the %d bytes of a response body received and no more at hand",
			half-ipc.HeaderSize, len(f)-ipc.HeaderSize)
		checkPoisoned(t, p, c, a, b, begin, reason)
	})
}

// TestStallHalfBodyOfAnother: a's deadline passes while half of b's answer
// is in: a returns in time, the connection is not poisoned, and b gets its
// answer once the rest arrives.
func TestStallHalfBodyOfAnother(t *testing.T) {
	orders(t, stallHalfBodyOfAnother)
}

func stallHalfBodyOfAnother(t *testing.T, aFirst bool) {
	leakCheck(t)
	p, c, a, b, _, seqB, begin := stalledPair(t, aFirst)
	f := answer(seqB, "b")
	p.write(f[:ipc.HeaderSize+2])
	ra := wait(t, a, "call a")
	if took := time.Since(begin); took > stallDeadline+slack {
		t.Errorf("call a returned after %v; deadline %v", took, stallDeadline)
	}
	if !errors.Is(ra.err, context.DeadlineExceeded) || errors.Is(ra.err, client.ErrClosed) {
		t.Fatalf("call a: %v; want DeadlineExceeded only", ra.err)
	}
	if err := c.Err(); err != nil {
		t.Fatalf("connection broken: %v", err)
	}
	p.write(f[ipc.HeaderSize+2:])
	if rb := wait(t, b, "call b"); rb.err != nil || rb.resp.ID != "b" {
		t.Fatalf("call b: %+v, %v", rb.resp, rb.err)
	}
	// The connection goes on.
	next := goEcho(context.Background(), c, "next")
	h := p.request()
	p.write(answer(h.SeqNo, "next"))
	if r := wait(t, next, "next call"); r.err != nil || r.resp.ID != "next" {
		t.Fatalf("next call: %+v, %v", r.resp, r.err)
	}
}

// TestStallWrite: the server does not read. A call's context ending
// interrupts its blocked write; part of the request went out, so the
// connection is poisoned and the call queued behind it fails too. The
// context is cancelled once the peer has seen the write begin, so a loaded
// machine (encoding 4 MiB under -race can take half a second) cannot end
// it before the write, which would withdraw the call instead.
func TestStallWrite(t *testing.T) {
	leakCheck(t)
	p, path := listenPeer(t)
	c := dial(t, path, client.Options{})
	p.accept()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	begin := time.Now()
	big := make(chan result, 1)
	go func() {
		_, err := echo(ctx, c, &servertest.EchoRequest{ID: strings.Repeat("x", 4<<20)}) // far more than the socket holds
		big <- result{err: err}
	}()
	// The write has begun: the peer takes the header, then reads no more.
	var hdr [ipc.HeaderSize]byte
	p.nc.SetReadDeadline(time.Now().Add(waitFor))
	if _, err := io.ReadFull(p.nc, hdr[:]); err != nil {
		t.Fatalf("peer: %v", err)
	}
	begun := time.Now() // the call began before this
	b := goEcho(context.Background(), c, "b")
	cancelled := time.Now()
	cancel()
	err := wait(t, big, "the big call").err
	if took := time.Since(cancelled); took > slack {
		t.Errorf("call returned %v after its context ended", took)
	}
	var se *client.StallError
	if !errors.Is(err, context.Canceled) || !errors.Is(err, client.ErrClosed) || !errors.As(err, &se) ||
		!strings.HasSuffix(err.Error(), " request bytes written and the server taking no more") ||
		se.Part != "request write" || se.Done <= 0 || se.Done >= se.Size ||
		se.Timeout != 0 || se.Waited < cancelled.Sub(begun) || se.Waited > time.Since(begin) {
		t.Fatalf("call: %v (%+v); want a write stall when its context ended", err, se)
	}
	if rb := wait(t, b, "queued call b"); !errors.Is(rb.err, client.ErrClosed) || rb.err.Error() != err.Error() {
		t.Fatalf("queued call b: %v; want %v", rb.err, err)
	}
	if _, err := echo(context.Background(), c, &servertest.EchoRequest{}); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("later call: %v", err)
	}
}
