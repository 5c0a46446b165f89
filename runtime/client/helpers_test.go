package client_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

// Shared helpers of this package's tests: a real server of the test
// protocol (start), a dialled Conn (dial), and a scripted peer (listenPeer)
// for the tests that play a misbehaving server byte by byte.

var (
	echoInfo = &client.CallInfo{Method: "Echo", Request: servertest.MsgEcho, Response: servertest.MsgEchoResponse}
	listInfo = &client.CallInfo{Method: "List", Request: servertest.MsgList, Response: servertest.MsgEchoResponse}
	tailInfo = &client.CallInfo{Method: "Tail", Request: servertest.MsgTail, Response: servertest.MsgTailFrame}
)

// leakCheck is shared with the other packages' tests.
var leakCheck = servertest.LeakCheck

func echo(ctx context.Context, c *client.Conn, req *servertest.EchoRequest) (*servertest.EchoResponse, error) {
	var resp servertest.EchoResponse
	err := c.Invoke(ctx, echoInfo, req, &resp)
	return &resp, err
}

// start runs a test-protocol server in t's temporary directory.
func start(t testing.TB, h *servertest.Handler) (*server.Server, string) {
	t.Helper()
	return servertest.Start(t, server.Options{SocketPath: filepath.Join(t.TempDir(), "c.sock")}, h)
}

func dial(t testing.TB, path string, opts client.Options) *client.Conn {
	t.Helper()
	c, err := client.Dial(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitFor bounds every wait of a test on something that should happen;
// slack is the time allowed past a deadline on a loaded machine.
const (
	waitFor = 5 * time.Second
	slack   = time.Second
)

// peer is a scripted server on a real socket: the test reads the client's
// requests and writes exactly the bytes it wants back.
type peer struct {
	t  testing.TB
	l  net.Listener
	nc net.Conn
	fr *ipc.FrameReader
}

// listenPeer listens in t's temporary directory; accept the client with
// peer.accept after dialling path.
func listenPeer(t testing.TB) (*peer, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "peer.sock")
	return listenPeerAt(t, path, path), path
}

// listenPeerAt listens at bind and renames the socket to path (the same:
// no rename), so that a new peer can take over the path of one still
// listening.
func listenPeerAt(t testing.TB, bind, path string) *peer {
	t.Helper()
	l, err := net.Listen("unix", bind)
	if err != nil {
		t.Fatal(err)
	}
	if bind != path {
		if err := os.Rename(bind, path); err != nil {
			l.Close()
			t.Fatal(err)
		}
	}
	p := &peer{t: t, l: l}
	t.Cleanup(func() {
		l.Close()
		if p.nc != nil {
			p.nc.Close()
		}
	})
	return p
}

// accept takes the client's connection.
func (p *peer) accept() {
	p.t.Helper()
	p.l.(*net.UnixListener).SetDeadline(time.Now().Add(waitFor))
	nc, err := p.l.Accept()
	if err != nil {
		p.t.Fatalf("peer: accept: %v", err)
	}
	p.nc, p.fr = nc, ipc.NewFrameReader(nc, 0)
}

// request reads the client's next request frame.
func (p *peer) request() ipc.Header {
	p.t.Helper()
	p.nc.SetReadDeadline(time.Now().Add(waitFor))
	h, _, err := p.fr.ReadFrame()
	if err != nil {
		p.t.Fatalf("peer: read request: %v", err)
	}
	return h
}

// write sends b as it is.
func (p *peer) write(b []byte) {
	p.t.Helper()
	p.nc.SetWriteDeadline(time.Now().Add(waitFor))
	if _, err := p.nc.Write(b); err != nil {
		p.t.Fatalf("peer: write: %v", err)
	}
}

// frame is a whole frame of type t and seq carrying m.
func frame(t ipc.MsgType, seq uint64, m msgp.Marshaler) []byte {
	b, err := ipc.AppendMsgFrame(nil, ipc.Header{MsgType: t, SeqNo: seq}, m)
	if err != nil {
		panic(err)
	}
	return b
}

// answer is the EchoResponse frame answering seq with id.
func answer(seq uint64, id string) []byte {
	return frame(servertest.MsgEchoResponse, seq, &servertest.EchoResponse{ID: id, N: int(seq)})
}

// result is what a call in a goroutine returned, and when.
type result struct {
	resp *servertest.EchoResponse
	err  error
	took time.Duration
}

// goEcho makes an Echo call in a goroutine; its result arrives on the
// channel returned.
func goEcho(ctx context.Context, c *client.Conn, id string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		start := time.Now()
		resp, err := echo(ctx, c, &servertest.EchoRequest{ID: id})
		ch <- result{resp, err, time.Since(start)}
	}()
	return ch
}

// wait returns the result on ch, failing the test after waitFor.
func wait(t testing.TB, ch <-chan result, what string) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(waitFor):
		t.Fatalf("%s: no result after %v", what, waitFor)
		return result{}
	}
}
