package server_test

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

// fuzzHandler answers at once whatever the request asks.
var fuzzHandler = &servertest.Handler{
	Echo: func(ctx context.Context, req *servertest.EchoRequest) (*servertest.EchoResponse, error) {
		req.Sleep = 0
		return servertest.DefaultEcho(ctx, req)
	},
	Tail: func(ctx context.Context, req *servertest.TailRequest, s *server.Stream) error {
		req.N = min(max(req.N, 0), 8)
		return servertest.DefaultTail(ctx, req, s)
	},
}

func seedFrame(t ipc.MsgType, seq uint64, m msgp.Marshaler) []byte {
	b, err := ipc.AppendMsgFrame(nil, ipc.Header{MsgType: t, SeqNo: seq}, m)
	if err != nil {
		panic(err)
	}
	return b
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// FuzzServerConn feeds arbitrary bytes to a whole server connection: the
// server must neither panic nor leave a goroutine behind, and must close
// the connection once the client has sent everything and shut its side.
func FuzzServerConn(f *testing.F) {
	list := seedFrame(servertest.MsgList, 1, nil)
	f.Add(list)
	f.Add(cat(list, seedFrame(servertest.MsgEcho, 2, &servertest.EchoRequest{ID: "x"}), seedFrame(servertest.MsgList, 3, nil)))
	f.Add(seedFrame(servertest.MsgTail, 1, &servertest.TailRequest{N: 2}))
	f.Add(cat(seedFrame(servertest.MsgTail, 1, &servertest.TailRequest{N: 2, Follow: true}), list))
	f.Add(cat(seedFrame(servertest.MsgTail, 1, &servertest.TailRequest{N: 1}), list, seedFrame(servertest.MsgTail, 2, nil)))
	f.Add(seedFrame(servertest.MsgEcho, 1, &servertest.EchoRequest{Panic: true}))
	f.Add(cat(seedFrame(0x7F, 1, nil), list))
	f.Add([]byte{0xC1, 0xD9, 0x01, 0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0xC1})
	f.Add([]byte{0xC1, 0xD9, 0x01, 0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF})
	f.Add([]byte{0xC1, 0xD9, 0x01})
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))

	leakCheck(f)
	_, path := startServer(f, server.Options{MaxPayload: 4096}, fuzzHandler)
	f.Fuzz(func(t *testing.T, data []byte) {
		nc, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		uc := nc.(*net.UnixConn)
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			uc.Write(data) // fails if the server closed the connection first
			uc.CloseWrite()
		}()
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = io.Copy(io.Discard, nc)
		<-wrote
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("server kept the connection open after the client finished")
		}
	})
}
