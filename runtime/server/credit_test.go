package server_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
	"github.com/mgmtgen/mgmtgen/runtime/status"
)

// Flow control of mux streams (credit.go), frame by frame.

// sendTail sends a Tail request seq on a mux connection, without its
// window.
func (r *rawConn) sendTail(seq uint64, req *servertest.TailRequest) {
	r.t.Helper()
	r.sendMsg(servertest.MsgTail, seq, req)
}

// credit grants the stream seq frames and bytes.
func (r *rawConn) credit(seq uint64, frames uint32, bytes uint64) {
	r.t.Helper()
	r.write(ipc.AppendStreamCredit(nil, seq, frames, bytes))
}

// echoNext sends an Echo with seq and requires its answer to be the next
// frame: whatever the stream holds back does not come before it.
func (r *rawConn) echoNext(seq uint64) {
	r.t.Helper()
	r.sendMsg(servertest.MsgEcho, seq, &servertest.EchoRequest{ID: "beside", N: int(seq)})
	if e := r.echo(seq); e.ID != "beside" || e.N != int(seq) {
		r.t.Fatalf("echo %d beside the stream: %+v", seq, e)
	}
}

// A mux stream sends no more frames than its window holds, frames and
// bytes (a frame goes while some byte credit is left), and goes on as
// credit comes; calls on the connection are answered meanwhile.
func TestMuxCreditWindow(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{}, nil)
	c := dialMux(t, path)
	c.sendTail(1, &servertest.TailRequest{N: 12})
	c.echoNext(100) // no credit: no frame
	c.credit(1, 4, 1<<20)
	for i := range 4 {
		if f := c.muxFrame(1); f.I != i {
			t.Fatalf("frame %d: %+v", i, f)
		}
	}
	c.echoNext(101) // the window is used up: the 5th frame waits
	c.credit(1, 2, 0)
	for i := 4; i < 6; i++ {
		if f := c.muxFrame(1); f.I != i {
			t.Fatalf("frame %d: %+v", i, f)
		}
	}
	c.echoNext(102)
	c.credit(1, 100, 0) // the byte window has room left
	for i := 6; i < 12; i++ {
		if f := c.muxFrame(1); f.I != i || f.EOF != (i == 11) {
			t.Fatalf("frame %d: %+v", i, f)
		}
	}
	if st := c.streamEnd(1); st.Code != 0 {
		t.Fatalf("end: %+v", st)
	}
}

// The byte window alone holds frames back: with 1 byte of credit one
// frame goes, whatever its size, then none until more comes.
func TestMuxCreditBytes(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{}, nil)
	c := dialMux(t, path)
	c.sendTail(1, &servertest.TailRequest{N: 3})
	c.credit(1, 100, 1)
	if f := c.muxFrame(1); f.I != 0 {
		t.Fatalf("frame 0: %+v", f)
	}
	c.echoNext(100)
	// Frame 0's payload took more than the 1 byte: grant it and one more.
	c.credit(1, 0, tailFrameLen(0)) // back to exactly 1 byte left
	if f := c.muxFrame(1); f.I != 1 {
		t.Fatalf("frame 1: %+v", f)
	}
	c.echoNext(101)
	c.credit(1, 0, 1<<20)
	if f := c.muxFrame(1); f.I != 2 || !f.EOF {
		t.Fatalf("frame 2: %+v", f)
	}
	c.streamEnd(1)
}

// tailFrameLen is the payload length of TailFrame{I: i}.
func tailFrameLen(i int) uint64 {
	b, _ := (&servertest.TailFrame{I: i}).MarshalMsg(nil)
	return uint64(len(b))
}

// A client that grants no more ends only its stream, after
// StreamSendTimeout: the stream's StreamEnd says ResourceExhausted, the
// handler's Send fails and its context ends, and the connection's calls
// and other streams go on.
func TestMuxCreditTimeout(t *testing.T) {
	leakCheck(t)
	sendErr := make(chan error, 1)
	h := &servertest.Handler{Tail: func(ctx context.Context, req *servertest.TailRequest, s *server.Stream) error {
		err := servertest.DefaultTail(ctx, req, s)
		if req.N == 5 {
			sendErr <- err
			<-ctx.Done() // ended with the stream
		}
		return err
	}}
	_, path := startServer(t, server.Options{StreamSendTimeout: 100 * time.Millisecond}, h)
	c := dialMux(t, path)
	c.sendTail(1, &servertest.TailRequest{N: 5})
	c.credit(1, 2, 1<<20)
	c.muxFrame(1)
	c.muxFrame(1)
	st := c.streamEnd(1)
	const want = "server: Tail stream: client stopped reading the stream for 100ms"
	if status.Code(st.Code) != status.ResourceExhausted || st.Message != want {
		t.Fatalf("end %+v, want ResourceExhausted %q", st, want)
	}
	if err := <-sendErr; status.CodeOf(err) != status.ResourceExhausted {
		t.Errorf("handler's Send: %v", err)
	}
	c.echoNext(2)
	c.openStream(3, &servertest.TailRequest{N: 2})
	c.muxFrame(3)
	if f := c.muxFrame(3); !f.EOF {
		t.Fatalf("second stream: %+v", f)
	}
	if st := c.streamEnd(3); st.Code != 0 {
		t.Fatalf("second stream's end: %+v", st)
	}
}

// Hostile credit changes nothing else: credit for a seq that runs no
// stream (unknown, a call's, ended), a malformed one, and grants that
// would overflow are ignored or saturate; the connection and its stream go on.
func TestMuxCreditHostile(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{}, nil)
	c := dialMux(t, path)
	c.credit(99, math.MaxUint32, math.MaxUint64)
	c.write(append(ipc.AppendHeader(nil, ipc.Header{MsgType: ipc.MsgStreamCredit, SeqNo: 1, Length: 3}), 0x81, 0xa1, 0x66)) // truncated map
	c.echoNext(1)
	c.sendTail(2, &servertest.TailRequest{N: 300})
	for range 4 {
		c.credit(2, math.MaxUint32, math.MaxUint64)
	}
	for i := range 300 {
		if f := c.muxFrame(2); f.I != i {
			t.Fatalf("frame %d: %+v", i, f)
		}
	}
	c.streamEnd(2)
	c.credit(2, 1, 1) // ended
	c.echoNext(3)
}
