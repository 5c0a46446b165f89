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
// bytes in reply, then closes it.
type hostileServer struct {
	l     net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	reply []byte
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
		reply := s.reply
		s.mu.Unlock()
		s.wg.Go(func() {
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(5 * time.Second))
			if _, _, err := ipc.NewFrameReader(nc, 0).ReadFrame(); err != nil {
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
