package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

// schedulingSlack is how late a round trip that waits for nothing may be
// on a loaded 2-core machine under -race.
const schedulingSlack = 100 * time.Millisecond

// TestHardenUnreadResponses: a client that floods requests and never reads
// a response is dropped once a response write has blocked WriteTimeout;
// the server meanwhile answers others without waiting for that: none of
// their calls takes longer than a round trip plus schedulingSlack.
func TestHardenUnreadResponses(t *testing.T) {
	leakCheck(t)
	const writeTimeout = time.Second
	_, path := startServer(t, server.Options{WriteTimeout: writeTimeout}, nil)
	flood := dialRaw(t, path)
	var batch []byte
	for i := range 1000 {
		f, _ := ipc.AppendMsgFrame(nil, ipc.Header{MsgType: servertest.MsgEcho, SeqNo: uint64(i + 1)},
			&servertest.EchoRequest{ID: strings.Repeat("r", 1000)})
		batch = append(batch, f...)
	}
	start := time.Now()
	dropped := make(chan time.Duration, 1)
	go func() {
		for {
			flood.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, err := flood.nc.Write(batch); err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					dropped <- -1
				} else {
					dropped <- time.Since(start)
				}
				return
			}
		}
	}()
	other := dialRaw(t, path)
	var worst time.Duration
	for i := range 30 {
		s := time.Now()
		other.send(servertest.MsgList, uint64(i+1), nil)
		other.echo(uint64(i + 1))
		worst = max(worst, time.Since(s))
		time.Sleep(10 * time.Millisecond)
	}
	d := <-dropped
	if d < 0 {
		t.Fatal("flooding client that never reads was not dropped within 10 s")
	}
	t.Logf("non-reading client dropped after %v (write timeout %v); other client's worst latency %v", d, writeTimeout, worst)
	// Nothing of the flooding connection is shared with another: its reader,
	// its handlers (at most MaxCallsPerConn, their answers queued behind the
	// blocked write, none of them waiting) and its writer are its own. So
	// the other client's round trips wait for nothing but the CPU: the bound
	// is slack for scheduling on a loaded 2-core machine under -race.
	if worst > schedulingSlack {
		t.Errorf("other client delayed: worst round trip %v, more than %v", worst, schedulingSlack)
	}
}

// TestHardenPipelineBurst: 10,000 requests in one write are each answered
// exactly once, with their own seq and payload.
func TestHardenPipelineBurst(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{}, nil)
	c := dialRaw(t, path)
	const n = 10000
	var burst []byte
	for i := range n {
		burst, _ = ipc.AppendMsgFrame(burst, ipc.Header{MsgType: servertest.MsgEcho, SeqNo: uint64(i + 1)},
			&servertest.EchoRequest{ID: fmt.Sprint(i + 1)})
	}
	go c.nc.Write(burst)
	seen := make([]bool, n+1)
	for range n {
		h, body := c.next()
		var r servertest.EchoResponse
		if err := ipc.DecodePayload(body, &r); err != nil || h.MsgType != servertest.MsgEchoResponse {
			t.Fatalf("frame %s: %v", h.MsgType, err)
		}
		if h.SeqNo == 0 || h.SeqNo > n || seen[h.SeqNo] || r.ID != fmt.Sprint(h.SeqNo) {
			t.Fatalf("seq %d answered with %q (seen before: %v)", h.SeqNo, r.ID, h.SeqNo <= n && seen[h.SeqNo])
		}
		seen[h.SeqNo] = true
	}
}

// TestHardenQuietStreamOutlivesIdleTimeout: a stream with nothing to send
// for longer than IdleTimeout is not cut; its handler's context ends when
// the client leaves.
func TestHardenQuietStreamOutlivesIdleTimeout(t *testing.T) {
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

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestHardenHeaderOnlyFlood: many connections each sending a header that
// declares the maximum payload and nothing else; the declared bodies are
// allocated up front (see the report), and every such connection is cut
// by IdleTimeout.
func TestHardenHeaderOnlyFlood(t *testing.T) {
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
