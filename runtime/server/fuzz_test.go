package server_test

// FuzzServerConn: arbitrary bytes on a whole connection; the seeds' allocation bound.

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/internal/memtest"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

// fuzzHandler answers at once whatever the request asks, and never panics:
// a "handler panic" in the log is a panic of the runtime's own code.
var fuzzHandler = &servertest.Handler{
	Echo: func(ctx context.Context, req *servertest.EchoRequest) (*servertest.EchoResponse, error) {
		req.Sleep, req.Panic = 0, false
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

// serverSeeds are request sequences a client sends, and broken ones.
func serverSeeds() [][]byte {
	list := seedFrame(servertest.MsgList, 1, nil)
	return [][]byte{
		list,
		cat(list, seedFrame(servertest.MsgEcho, 2, &servertest.EchoRequest{ID: "x"}), seedFrame(servertest.MsgList, 3, nil)),
		seedFrame(servertest.MsgTail, 1, &servertest.TailRequest{N: 2}),
		cat(seedFrame(servertest.MsgTail, 1, &servertest.TailRequest{N: 2, Follow: true}), list),
		cat(seedFrame(servertest.MsgTail, 1, &servertest.TailRequest{N: 1}), list, seedFrame(servertest.MsgTail, 2, nil)),
		seedFrame(servertest.MsgEcho, 1, &servertest.EchoRequest{Panic: true}),
		cat(seedFrame(0x7F, 1, nil), seedFrame(0x00, 2, rawBody{0x80}), list),
		seedFrame(servertest.MsgEcho, 1, rawBody{0x81, 0xa2, 'i', 'd', 0x01}),
		seedFrame(servertest.MsgEcho, 1, rawBody{0x81, 0xa2, 'i', 'd', 0xdb, 0xff, 0xff, 0xff, 0xff}),
		{0xC1, 0xD9, 0x01, 0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0xC1},
		{0xC1, 0xD9, 0x01, 0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF},
		{0xC1, 0xD9, 0x01, 0xA2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9, 0x81},
		{0xC1, 0xD9, 0x01},
		[]byte("GET / HTTP/1.1\r\n\r\n"),
	}
}

// rawBody is a payload given as its bytes.
type rawBody []byte

func (b rawBody) MarshalMsg(o []byte) ([]byte, error) { return append(o, b...), nil }

// fuzzConn sends data on a fresh connection to path, shuts its write side
// and reads until the server closes; it fails if the server does not.
func fuzzConn(t *testing.T, path string, data []byte) {
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
}

// FuzzServerConn feeds arbitrary bytes to a whole server connection: the
// server must neither panic (a panic in the runtime's own code would be
// recovered and logged, so the log is checked) nor leave a goroutine
// behind, and must close the connection once the client has sent
// everything and shut its side.
func FuzzServerConn(f *testing.F) {
	for _, s := range serverSeeds() {
		f.Add(s)
	}
	leakCheck(f)
	var logs logBuffer
	_, path := startServer(f, server.Options{MaxPayload: 4096, Logger: logs.Logger()}, fuzzHandler)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzConn(t, path, data)
		if strings.Contains(logs.String(), "handler panic") {
			t.Fatalf("panic:\n%s", logs.String())
		}
	})
}

// declared sums the payload lengths the frames in data declare.
func declared(data []byte) uint64 {
	var n uint64
	for len(data) >= ipc.HeaderSize {
		l := binary.BigEndian.Uint32(data[13:17])
		n += uint64(l)
		if uint64(len(data)-ipc.HeaderSize) < uint64(l) {
			break
		}
		data = data[ipc.HeaderSize+int(l):]
	}
	return n
}

// TestServerConnSeedsAllocBounded runs the server seeds and checks that a
// connection allocates (server and this client together) no more than its
// bytes, its declared payloads (up to MaxPayload) and 256 KiB.
func TestServerConnSeedsAllocBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation accounting is slow under -short")
	}
	leakCheck(t)
	const maxPayload = 64 << 10
	_, path := startServer(t, server.Options{MaxPayload: maxPayload}, fuzzHandler)
	const slack = 256 << 10
	for i, s := range serverSeeds() {
		got := memtest.Allocated(func() { fuzzConn(t, path, s) })
		limit := uint64(len(s)) + min(declared(s), maxPayload) + slack
		if got > limit {
			t.Errorf("seed %d (%d bytes): %d bytes allocated, limit %d", i, len(s), got, limit)
		}
	}
}
