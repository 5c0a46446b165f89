package server_test

// The idle timeout: which connections it closes (idle, stalled mid-header,
// flooding headers) and which it keeps (a call in flight, a quiet stream).

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

func TestIdleTimeout(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{IdleTimeout: 200 * time.Millisecond}, nil)

	// The idle clock starts when the server accepts, so the measurement
	// starts before the dial: it can only overstate the time.
	start := time.Now()
	half := dialRaw(t, path)
	half.write([]byte{0xC1, 0xD9, 0x01, 0xA2, 0, 0}) // half a header
	half.expectClosed(3 * time.Second)
	if d := time.Since(start); d < 150*time.Millisecond || d > 200*time.Millisecond+time.Second {
		t.Errorf("half-header client cut off after %v, idle timeout 200ms", d)
	}

	// A client trickling a header a byte every 50 ms is cut off too.
	trickle := dialRaw(t, path)
	stop := make(chan struct{})
	trickled := make(chan struct{})
	go func() {
		defer close(trickled)
		hdr := ipc.AppendHeader(nil, ipc.Header{MsgType: servertest.MsgList, SeqNo: 1})
		for i := range ipc.HeaderSize - 1 {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := trickle.nc.Write(hdr[i : i+1]); err != nil {
				return
			}
		}
	}()
	trickle.expectClosed(3 * time.Second)
	close(stop)
	<-trickled

	// A connection that never sends is closed. (A quiet stream is not idle:
	// TestQuietStreamOutlivesIdleTimeout.)
	idle := dialRaw(t, path)
	idle.expectClosed(3 * time.Second)

	// A call in flight longer than the timeout keeps the connection.
	busy := dialRaw(t, path)
	busy.sendMsg(servertest.MsgEcho, 1, &servertest.EchoRequest{ID: "slow", Sleep: 500 * time.Millisecond})
	busy.echo(1)
	busy.send(servertest.MsgList, 2, nil)
	busy.echo(2)
	busy.expectClosed(3 * time.Second)
}

// TestIdleTimeoutCountsFromLastRequest: a connection used more often than
// the idle timeout stays open however long it lives, then closes once left
// idle.
func TestIdleTimeoutCountsFromLastRequest(t *testing.T) {
	leakCheck(t)
	// Gaps of a third of the timeout leave a loaded machine room to
	// oversleep without a gap reaching the timeout; the connection lives
	// well past the timeout.
	const idle = 600 * time.Millisecond
	_, path := startServer(t, server.Options{IdleTimeout: idle}, nil)
	c := dialRaw(t, path)
	opened := time.Now()
	var last time.Time
	for i := range 6 {
		if i > 0 {
			time.Sleep(idle / 3)
		}
		c.send(servertest.MsgList, uint64(i+1), nil)
		c.echo(uint64(i + 1))
		last = time.Now()
	}
	if lived := last.Sub(opened); lived < idle {
		t.Fatalf("test ran %v, want longer than the idle timeout %v", lived, idle)
	}
	c.expectClosed(5 * time.Second)
	// The server's timer starts when it has read the last request, a little
	// before its answer reached us: half the timeout is ample slack.
	if d := time.Since(last); d < idle/2 {
		t.Fatalf("closed %v after the last answer, want about the idle timeout %v", d, idle)
	}
}

// TestQuietStreamOutlivesIdleTimeout: a stream with nothing to send
// for longer than IdleTimeout is not cut; its handler's context ends when
// the client leaves.
func TestQuietStreamOutlivesIdleTimeout(t *testing.T) {
	leakCheck(t)
	ended := make(chan struct{})
	h := &servertest.Handler{Tail: func(ctx context.Context, _ *servertest.TailRequest, s *server.Stream) error {
		defer close(ended)
		if err := s.Send(servertest.MsgTailFrame, &servertest.TailFrame{I: 1}, false); err != nil {
			return err
		}
		<-ctx.Done()
		return nil
	}}
	const idle = 150 * time.Millisecond
	_, path := startServer(t, server.Options{IdleTimeout: idle}, h)
	c := dialRaw(t, path)
	c.sendMsg(servertest.MsgTail, 1, &servertest.TailRequest{Follow: true})
	c.next()
	c.nc.SetReadDeadline(time.Now().Add(5 * idle))
	if _, _, err := c.fr.ReadFrame(); !isTimeout(err) {
		t.Fatalf("quiet stream: %v, want it still open after %v", err, 5*idle)
	}
	select {
	case <-ended:
		t.Fatal("stream handler ended while its client was still there")
	default:
	}
	c.nc.Close()
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("stream handler's context not cancelled when the client left")
	}
}

// TestHeaderOnlyFlood: many connections each sending a header that
// declares the maximum payload and nothing else; the declared bodies are
// allocated up front (see the report), and every such connection is cut
// by IdleTimeout.
func TestHeaderOnlyFlood(t *testing.T) {
	leakCheck(t)
	const idle = 200 * time.Millisecond
	_, path := startServer(t, server.Options{IdleTimeout: idle, MaxPayload: 1 << 20}, nil)
	hdr := ipc.AppendHeader(nil, ipc.Header{MsgType: servertest.MsgEcho, SeqNo: 1, Length: 1 << 20})
	var conns []*rawConn
	for range 32 {
		c := dialRaw(t, path)
		c.write(append(bytes.Clone(hdr), 0x80))
		conns = append(conns, c)
	}
	for _, c := range conns {
		c.expectClosed(5 * time.Second)
	}
	c := dialRaw(t, path)
	c.send(servertest.MsgList, 1, nil)
	c.echo(1)
}
