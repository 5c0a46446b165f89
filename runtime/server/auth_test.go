package server_test

// Who is calling: the peer's credentials in a handler's context, and the
// Authorize hook against a second local user.

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/internal/seconduser"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

// Handlers find the peer's credentials (uid, gid, pid) in their context,
// unary and streaming alike; outside a handler there are none.
func TestPeerFromContext(t *testing.T) {
	leakCheck(t)
	me := server.PeerCred{UID: uint32(os.Getuid()), GID: uint32(os.Getgid()), PID: int32(os.Getpid())}
	peers := make(chan server.PeerCred, 2)
	h := &servertest.Handler{
		Echo: func(ctx context.Context, req *servertest.EchoRequest) (*servertest.EchoResponse, error) {
			p, ok := server.PeerFromContext(ctx)
			if !ok {
				return nil, fmt.Errorf("no peer credentials")
			}
			peers <- p
			return servertest.DefaultEcho(ctx, req)
		},
		Tail: func(ctx context.Context, req *servertest.TailRequest, s *server.Stream) error {
			p, _ := server.PeerFromContext(ctx)
			peers <- p
			return s.Send(servertest.MsgTailFrame, &servertest.TailFrame{EOF: true}, true)
		},
	}
	_, path := startServer(t, server.Options{}, h)
	c := dialRaw(t, path)
	c.sendMsg(servertest.MsgEcho, 1, &servertest.EchoRequest{ID: "who"})
	c.echo(1)
	c.sendMsg(servertest.MsgTail, 2, &servertest.TailRequest{})
	c.tailFrame()
	for _, in := range []string{"Echo", "Tail"} {
		select {
		case got := <-peers:
			if got != me {
				t.Errorf("PeerFromContext in %s = %+v, want %+v", in, got, me)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no peer from the %s handler", in)
		}
	}
	if p, ok := server.PeerFromContext(context.Background()); ok {
		t.Errorf("PeerFromContext outside a handler reports %+v", p)
	}
}

// TestAuthorizeSecondUser: the second user (uid 65534) is kept out by the
// socket's permissions; with the path opened to it, an Authorize hook that
// admits only the server's uid refuses it: its connection is closed
// unserved and the refusal is logged with its uid.
func TestAuthorizeSecondUser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	leakCheck(t)
	uid := uint32(os.Getuid())
	var logs logBuffer
	var served atomic.Int32
	h := &servertest.Handler{Echo: func(ctx context.Context, req *servertest.EchoRequest) (*servertest.EchoResponse, error) {
		served.Add(1)
		return servertest.DefaultEcho(ctx, req)
	}}
	auth := func(_ context.Context, p server.PeerCred) error {
		if p.UID != uid {
			return fmt.Errorf("uid %d is not the server's uid %d", p.UID, uid)
		}
		return nil
	}
	_, path := startServer(t, server.Options{Logger: logs.Logger(), Authorize: auth}, h)

	out, err := seconduser.Command(t, "TestSecondUserHelper", "echo", "SOCK="+path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "dial: permission denied") {
		t.Errorf("uid %d through the 0700 directory: %v\n%s", seconduser.UID, err, out)
	}

	seconduser.OpenDirs(t, path)
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	out, err = seconduser.Command(t, "TestSecondUserHelper", "echo", "SOCK="+path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "read:") || strings.Contains(string(out), "served") {
		t.Fatalf("uid %d with Authorize: %v\n%s", seconduser.UID, err, out)
	}
	if n := served.Load(); n != 0 {
		t.Errorf("%d calls of the refused user served", n)
	}
	if l := logs.String(); !strings.Contains(l, "refused by Authorize") || !strings.Contains(l, fmt.Sprintf("uid=%d", seconduser.UID)) {
		t.Errorf("refusal not logged with the uid:\n%s", l)
	}
	// The server's own uid is still served.
	c := dialRaw(t, path)
	c.sendMsg(servertest.MsgEcho, 1, &servertest.EchoRequest{ID: "mine"})
	if r := c.echo(1); r.ID != "mine" || r.UID != int(uid) {
		t.Errorf("own uid answered %+v", r)
	}
}

// Authorize sees the connecting process's credentials; refusing them closes
// the connection before any call is served, and is logged.
func TestAuthorize(t *testing.T) {
	leakCheck(t)
	me := server.PeerCred{UID: uint32(os.Getuid()), GID: uint32(os.Getgid()), PID: int32(os.Getpid())}
	var mu sync.Mutex
	var seen []server.PeerCred
	refuse := true
	var served atomic.Int32
	var logs logBuffer
	h := &servertest.Handler{Echo: func(ctx context.Context, req *servertest.EchoRequest) (*servertest.EchoResponse, error) {
		served.Add(1)
		return servertest.DefaultEcho(ctx, req)
	}}
	_, path := startServer(t, server.Options{Logger: newLogger(&logs), Authorize: func(ctx context.Context, p server.PeerCred) error {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, p)
		if refuse && p.UID == uint32(os.Getuid()) {
			return fmt.Errorf("uid %d not allowed", p.UID)
		}
		return nil
	}}, h)
	c := dialRaw(t, path)
	req, err := ipc.AppendMsgFrame(nil, ipc.Header{MsgType: servertest.MsgEcho, SeqNo: 1}, &servertest.EchoRequest{ID: "refused"})
	if err != nil {
		t.Fatal(err)
	}
	c.nc.Write(req) // may fail: the server closes a refused connection at once
	c.expectClosed(2 * time.Second)
	if served.Load() != 0 {
		t.Error("a refused connection was served")
	}
	if out := logs.String(); !strings.Contains(out, "refused by Authorize") || !strings.Contains(out, "not allowed") {
		t.Errorf("refusal not logged:\n%s", out)
	}

	mu.Lock()
	refuse = false
	mu.Unlock()
	c = dialRaw(t, path)
	c.sendMsg(servertest.MsgEcho, 1, &servertest.EchoRequest{ID: "ok"})
	c.echo(1)
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0] != me || seen[1] != me {
		t.Fatalf("Authorize saw %+v, want this process twice (%+v)", seen, me)
	}
}
