package server_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
	"github.com/mgmtgen/mgmtgen/runtime/status"
)

// Multiplexed streams (feature "mux", mux.go), frame by frame.

var muxHello = &ipc.Hello{Version: ipc.ExtVersion, Features: []string{"errors", "status", "ready", "cancel", "mux"}}

// dialMux dials and says hello with "mux"; the HelloAck must agree to it.
func dialMux(t *testing.T, path string) *rawConn {
	t.Helper()
	c := dialRaw(t, path)
	c.sendMsg(ipc.MsgHello, 0, muxHello)
	h, body := c.next()
	var ack ipc.HelloAck
	if h.MsgType != ipc.MsgHelloAck || ipc.DecodePayload(body, &ack) != nil || !slices.Contains(ack.Features, "mux") {
		t.Fatalf("hello answered %s % x, want a HelloAck with mux", h.MsgType, body)
	}
	return c
}

// openStream sends a Tail request seq on a mux connection and, in the
// same write, the stream's window (as the client does).
func (r *rawConn) openStream(seq uint64, req *servertest.TailRequest) {
	r.t.Helper()
	b, err := ipc.AppendMsgFrame(nil, ipc.Header{MsgType: servertest.MsgTail, SeqNo: seq}, req)
	if err != nil {
		r.t.Fatal(err)
	}
	r.write(ipc.AppendStreamCredit(b, seq, client.DefaultStreamQueueFrames, client.DefaultStreamQueueBytes))
}

// tailFrame reads the next frame, a TailFrame of the stream seq.
func (r *rawConn) muxFrame(seq uint64) servertest.TailFrame {
	r.t.Helper()
	var f servertest.TailFrame
	r.frameOf(servertest.MsgTailFrame, seq, &f)
	return f
}

// streamEnd reads the next frame, the StreamEnd of seq, and returns it.
func (r *rawConn) streamEnd(seq uint64) ipc.Status {
	r.t.Helper()
	var st ipc.Status
	r.frameOf(ipc.MsgStreamEnd, seq, &st)
	return st
}

// On a mux connection a stream does not take the connection: calls are
// read and answered while it runs, a second stream runs beside it, and a
// Cancel for its seq ends its handler's context; its StreamEnd then says
// Canceled, and the connection goes on.
func TestMuxStreamBesideCalls(t *testing.T) {
	leakCheck(t)
	ended := make(chan error, 2)
	h := &servertest.Handler{Tail: func(ctx context.Context, req *servertest.TailRequest, s *server.Stream) error {
		err := servertest.DefaultTail(ctx, req, s)
		if req.Follow {
			ended <- err
		}
		return err
	}}
	_, path := startServer(t, server.Options{}, h)
	c := dialMux(t, path)
	c.openStream(1, &servertest.TailRequest{N: 1, Follow: true})
	if f := c.muxFrame(1); f.I != 0 {
		t.Fatalf("frame %+v", f)
	}
	c.sendMsg(servertest.MsgEcho, 2, &servertest.EchoRequest{ID: "beside", N: 7})
	if r := c.echo(2); r.ID != "beside" || r.N != 7 {
		t.Fatalf("echo beside the stream: %+v", r)
	}
	c.openStream(3, &servertest.TailRequest{N: 2})
	for i := range 2 {
		if f := c.muxFrame(3); f.I != i || f.EOF != (i == 1) {
			t.Fatalf("second stream's frame %d: %+v", i, f)
		}
	}
	if st := c.streamEnd(3); st.Code != 0 {
		t.Fatalf("second stream's end: %+v", st)
	}
	c.send(ipc.MsgCancel, 1, nil)
	if err := <-ended; err != context.Canceled {
		t.Errorf("follow's handler returned %v, want context.Canceled", err)
	}
	if st := c.streamEnd(1); status.Code(st.Code) != status.Canceled || st.Message != "context canceled" {
		t.Errorf("cancelled stream's end: %+v, want Canceled", st)
	}
	c.send(servertest.MsgList, 4, nil)
	if r := c.echo(4); r.N != servertest.ListN {
		t.Errorf("List after the cancel: %+v", r)
	}
}

// MaxStreamsPerConn streams run at once on a mux connection; one more is
// answered with an error frame ResourceExhausted for its seq (its handler
// never runs) and the connection goes on; after one ends, a stream opens
// again. MaxStreams, the server's bound, refuses the same way.
func TestMuxStreamsPerConnBudget(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{MaxStreamsPerConn: 2, MaxStreams: 3}, nil)
	c := dialMux(t, path)
	for seq := uint64(1); seq <= 2; seq++ {
		c.openStream(seq, &servertest.TailRequest{N: 1, Follow: true})
		c.muxFrame(seq)
	}
	c.openStream(3, &servertest.TailRequest{N: 1})
	st := c.errorFrame(3)
	if status.Code(st.Code) != status.ResourceExhausted || st.Message != "server: too many streams on this connection (limit 2); close one or try again later" {
		t.Fatalf("third stream: %+v", st)
	}
	c.sendMsg(servertest.MsgEcho, 4, &servertest.EchoRequest{ID: "x"})
	if r := c.echo(4); r.ID != "x" {
		t.Fatalf("echo: %+v", r)
	}
	// The server's bound: 2 streams here, 1 on another connection, then full.
	other := dialMux(t, path)
	other.openStream(1, &servertest.TailRequest{N: 1, Follow: true})
	other.muxFrame(1)
	other.openStream(2, &servertest.TailRequest{N: 1})
	if st := other.errorFrame(2); status.Code(st.Code) != status.ResourceExhausted || st.Message != "server: too many streams (limit 3); try again later" {
		t.Fatalf("stream over MaxStreams: %+v", st)
	}
	c.send(ipc.MsgCancel, 1, nil)
	c.streamEnd(1)
	c.openStream(5, &servertest.TailRequest{N: 1})
	if f := c.muxFrame(5); !f.EOF {
		t.Fatalf("stream after one ended: %+v", f)
	}
	c.streamEnd(5)
}

// Close ends a mux connection's streams, which end complete (code 0), and
// closes the connection.
func TestMuxStreamsEndOnClose(t *testing.T) {
	leakCheck(t)
	s, path := startServer(t, server.Options{}, nil)
	c := dialMux(t, path)
	for seq := uint64(1); seq <= 2; seq++ {
		c.openStream(seq, &servertest.TailRequest{N: 1, Follow: true})
		c.muxFrame(seq)
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close(context.Background()) }()
	got := map[uint64]uint32{}
	for range 2 {
		h, body := c.next()
		var st ipc.Status
		if h.MsgType != ipc.MsgStreamEnd || ipc.DecodePayload(body, &st) != nil {
			t.Fatalf("got %s % x, want a StreamEnd", h.MsgType, body)
		}
		got[h.SeqNo] = st.Code
	}
	if len(got) != 2 || got[1] != 0 || got[2] != 0 {
		t.Errorf("stream ends %v, want seqs 1 and 2 complete", got)
	}
	c.expectClosed(5 * time.Second)
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
}
