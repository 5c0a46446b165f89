package client_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

// hostileServer answers every connection's first request frame with the
// bytes in reply, then closes it; with ack set, it first answers the
// connection's hello with ack.
type hostileServer struct {
	l     net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	reply []byte
	ack   []byte
}

func startHostile(t testing.TB) (*hostileServer, string) {
	path := filepath.Join(t.TempDir(), "hostile.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	s := &hostileServer{l: l}
	s.wg.Go(s.accept)
	t.Cleanup(func() { l.Close(); s.wg.Wait() })
	return s, path
}

func (s *hostileServer) accept() {
	for {
		nc, err := s.l.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		reply, ack := s.reply, s.ack
		s.mu.Unlock()
		s.wg.Go(func() {
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(5 * time.Second))
			fr := ipc.NewFrameReader(nc, 0)
			if ack != nil {
				if _, _, err := fr.ReadFrame(); err != nil {
					return
				}
				nc.Write(ack)
			}
			if _, _, err := fr.ReadFrame(); err != nil {
				return
			}
			nc.Write(reply)
		})
	}
}

func hostileFrame(t ipc.MsgType, seq uint64, m msgp.Marshaler) []byte {
	b, err := ipc.AppendMsgFrame(nil, ipc.Header{MsgType: t, SeqNo: seq}, m)
	if err != nil {
		panic(err)
	}
	return b
}

// FuzzClientConn plays a hostile server: the client's first request is
// answered with arbitrary bytes. A unary call (first input byte even) or a
// stream (odd) must end, answered or failed, without a panic, without a
// payload over the client's limit and without leaving a goroutine.
func FuzzClientConn(f *testing.F) {
	echo := hostileFrame(servertest.MsgEchoResponse, 1, &servertest.EchoResponse{ID: "x"})
	tail := hostileFrame(servertest.MsgTailFrame, 0, &servertest.TailFrame{I: 1})
	last := hostileFrame(servertest.MsgTailFrame, 0, &servertest.TailFrame{I: 2, EOF: true})
	f.Add(append([]byte{0}, echo...))
	f.Add(append([]byte{0}, hostileFrame(servertest.MsgEchoResponse, 9, &servertest.EchoResponse{ID: "x"})...))
	f.Add(append([]byte{0}, hostileFrame(servertest.MsgStatus, 1, &servertest.Status{Err: "boom"})...))
	f.Add(append([]byte{0}, echo[:20]...))
	f.Add(append([]byte{0}, ipc.AppendHeader(nil, ipc.Header{MsgType: servertest.MsgEchoResponse, SeqNo: 1, Length: ^uint32(0)})...))
	f.Add(append([]byte{0}, 0xC1, 0xD9, 0x07))
	f.Add(bytes.Join([][]byte{{1}, tail, tail, last}, nil))
	f.Add(bytes.Join([][]byte{{1}, tail, echo}, nil))
	f.Add(bytes.Join([][]byte{{1}, tail[:ipc.HeaderSize+1]}, nil))
	leakCheck(f)
	s, path := startHostile(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		s.mu.Lock()
		s.reply = data[1:]
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := client.DialContext(ctx, path, client.Options{MaxPayload: 4096})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if data[0]%2 == 0 {
			var resp servertest.EchoResponse
			err = c.Invoke(ctx, echoInfo, &servertest.EchoRequest{ID: "x"}, &resp)
		} else {
			err = hostileStream(ctx, c)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("client hung on a closed connection: %v", err)
		}
	})
}

func hostileStream(ctx context.Context, c *client.Conn) error {
	st, err := c.OpenStream(ctx, tailInfo, &servertest.TailRequest{N: 1})
	if err != nil {
		return err
	}
	defer st.Close()
	for range 1 << 16 {
		var fr servertest.TailFrame
		if err := st.RecvInto(&fr); err != nil {
			return err
		}
	}
	return errors.New("stream never ended")
}

// FuzzClientMux plays a hostile server on a connection that negotiated
// mux: the client's first request, a stream's (seq 1), is answered with
// arbitrary bytes, while a call (seq 2) waits beside it. Frames go to the
// stream's queue (4 frames) or the call, by seq. Both must end, answered
// or failed, without a panic and without leaving a goroutine (the drain).
func FuzzClientMux(f *testing.F) {
	tail := func(seq uint64, i int) []byte {
		return hostileFrame(servertest.MsgTailFrame, seq, &servertest.TailFrame{I: i})
	}
	end := hostileFrame(ipc.MsgStreamEnd, 1, &ipc.Status{})
	echo := hostileFrame(servertest.MsgEchoResponse, 2, &servertest.EchoResponse{ID: "x"})
	f.Add(bytes.Join([][]byte{hostileFrame(ipc.MsgReady, 1, nil), tail(1, 0), echo, end}, nil))
	f.Add(bytes.Join([][]byte{tail(1, 0), tail(1, 1), tail(1, 2), tail(1, 3), tail(1, 4), tail(1, 5), echo}, nil))
	f.Add(bytes.Join([][]byte{tail(1, 0), hostileFrame(ipc.MsgError, 1, &ipc.Status{Code: 8, Message: "full"}), tail(1, 1), echo}, nil))
	f.Add(bytes.Join([][]byte{tail(3, 0), tail(0, 0), echo[:20]}, nil))
	f.Add(append(tail(1, 0), ipc.AppendHeader(nil, ipc.Header{MsgType: servertest.MsgTailFrame, SeqNo: 1, Length: 1 << 20})...))
	leakCheck(f)
	s, path := startHostile(f)
	s.ack = hostileFrame(ipc.MsgHelloAck, 0, &ipc.HelloAck{Version: ipc.ExtVersion, Features: []string{"errors", "status", "ready", "cancel", "mux"}})
	f.Fuzz(func(t *testing.T, data []byte) {
		s.mu.Lock()
		s.reply = data
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := client.DialContext(ctx, path, client.Options{MaxPayload: 4096, Negotiate: true, StreamQueueFrames: 4})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if !c.HasFeature(ctx, "mux") {
			t.Fatal("mux not agreed")
		}
		st, err := c.OpenStream(ctx, tailInfo, &servertest.TailRequest{N: 1})
		if err == nil {
			defer st.Close()
			var resp servertest.EchoResponse
			call := make(chan error, 1)
			go func() { call <- c.Invoke(ctx, echoInfo, &servertest.EchoRequest{ID: "x"}, &resp) }()
			for range 1 << 16 {
				var fr servertest.TailFrame
				if err = st.RecvInto(&fr); err != nil {
					break
				}
			}
			if cerr := <-call; errors.Is(cerr, context.DeadlineExceeded) {
				t.Fatalf("call hung: %v", cerr)
			}
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("client hung on a closed connection: %v", err)
		}
	})
}
