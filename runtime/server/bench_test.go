package server_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

var benchInfo = &client.CallInfo{Method: "Echo", Request: servertest.MsgEcho, Response: servertest.MsgEchoResponse}

// BenchmarkUnaryRoundTrip is one client call answered by the server, both
// in this process: allocs/op counts client and server together, including
// the two the test protocol's glue makes (the decoded request and the
// handler's response).
func BenchmarkUnaryRoundTrip(b *testing.B) {
	_, path := startServer(b, server.Options{}, nil)
	c, err := client.Dial(path, client.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := &servertest.EchoRequest{}
	var resp servertest.EchoResponse
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		req.N = i
		// A CallInfo literal per call, as generated methods write it.
		info := &client.CallInfo{Method: "Echo", Request: servertest.MsgEcho, Response: servertest.MsgEchoResponse}
		if err := c.Invoke(ctx, info, req, &resp); err != nil || resp.N != i {
			b.Fatalf("%v %d", err, resp.N)
		}
	}
}

// BenchmarkUnaryParallel shares one connection between GOMAXPROCS callers.
func BenchmarkUnaryParallel(b *testing.B) {
	_, path := startServer(b, server.Options{}, nil)
	c, err := client.Dial(path, client.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := &servertest.EchoRequest{N: 1}
		var resp servertest.EchoResponse
		for pb.Next() {
			if err := c.Invoke(context.Background(), benchInfo, req, &resp); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRawSocketFloor is the floor the runtime is measured against: the
// same frames echoed over a Unix socket by a bare goroutine, buffered reads
// and one write per frame, no decoding, no dispatch.
func BenchmarkRawSocketFloor(b *testing.B) {
	path := filepath.Join(b.TempDir(), "raw.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		nc, err := l.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		echoFrames(nc)
	}()
	nc, err := net.Dial("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	frame, _ := ipc.AppendMsgFrame(nil, ipc.Header{MsgType: servertest.MsgEcho, SeqNo: 1}, &servertest.EchoRequest{N: 12345})
	br := bufio.NewReader(nc)
	in := make([]byte, len(frame))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := nc.Write(frame); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(br, in); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	nc.Close()
	<-done
}

func echoFrames(nc net.Conn) {
	br := bufio.NewReader(nc)
	buf := make([]byte, 0, 4096)
	for {
		var hdr [ipc.HeaderSize]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return
		}
		h, err := ipc.ParseHeader(hdr[:], 0)
		if err != nil {
			return
		}
		buf = append(buf[:0], hdr[:]...)
		buf = buf[:ipc.HeaderSize+int(h.Length)]
		if _, err := io.ReadFull(br, buf[ipc.HeaderSize:]); err != nil {
			return
		}
		if _, err := nc.Write(buf); err != nil {
			return
		}
	}
}

// BenchmarkUnaryRoundTripDeadline is BenchmarkUnaryRoundTrip with a
// cancellable context, which the client must watch while it reads.
func BenchmarkUnaryRoundTripDeadline(b *testing.B) {
	_, path := startServer(b, server.Options{}, nil)
	c, err := client.Dial(path, client.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := &servertest.EchoRequest{}
	var resp servertest.EchoResponse
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		req.N = i
		if err := c.Invoke(ctx, benchInfo, req, &resp); err != nil || resp.N != i {
			b.Fatalf("%v %d", err, resp.N)
		}
	}
}
