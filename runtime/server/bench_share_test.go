package server_test

import (
	"context"
	"net"
	"path/filepath"
	"testing"

	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

// BenchmarkServerOnly is BenchmarkUnaryRoundTrip with a bare client that
// writes and reads frames itself: the server's share of the cost.
func BenchmarkServerOnly(b *testing.B) {
	_, path := startServer(b, server.Options{}, nil)
	c := dialRaw(b, path)
	frame := seedFrame(servertest.MsgEcho, 1, &servertest.EchoRequest{N: 12345})
	b.ReportAllocs()
	in := make([]byte, 0, 4096)
	for b.Loop() {
		if _, err := c.nc.Write(frame); err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.fr.ReadFrameInto(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClientOnly is BenchmarkUnaryRoundTrip against the floor's bare
// echo server: the client's share of the cost.
func BenchmarkClientOnly(b *testing.B) {
	path := filepath.Join(b.TempDir(), "raw.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	go func() {
		nc, err := l.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		echoFrames(nc)
	}()
	c, err := client.Dial(path, client.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	info := &client.CallInfo{Method: "Echo", Request: servertest.MsgEcho, Response: servertest.MsgEcho}
	req := &servertest.EchoRequest{}
	var resp servertest.EchoRequest
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Invoke(context.Background(), info, req, &resp); err != nil {
			b.Fatal(err)
		}
	}
}
