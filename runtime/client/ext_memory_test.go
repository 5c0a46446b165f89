package client_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

// The client remembers a server that acknowledged a hello (by the pid
// listening on the path and the socket file): a later connection's first
// call with a deadline sends its CallHeader right behind the hello instead
// of waiting for the answer. Seen from a scripted peer.

var negotiate = client.Options{Negotiate: true}

// deadlineEcho makes an Echo call with a deadline in a goroutine.
func deadlineEcho(t *testing.T, c *client.Conn, id string) <-chan result {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return goEcho(ctx, c, id)
}

// frames reads the client's next n frames' types.
func (p *peer) frames(n int) []ipc.MsgType {
	p.t.Helper()
	var got []ipc.MsgType
	for range n {
		got = append(got, p.request().MsgType)
	}
	return got
}

// expectNothing checks that the client sends nothing within d (a loaded
// machine can only make a frame later, never earlier).
func (p *peer) expectNothing(d time.Duration) {
	p.t.Helper()
	p.nc.SetReadDeadline(time.Now().Add(d))
	if h, _, err := p.fr.ReadFrame(); err == nil {
		p.t.Fatalf("peer: got %s seq %d while the client should wait for the hello's answer", h.MsgType, h.SeqNo)
	} else if !isTimeout(err) {
		p.t.Fatalf("peer: read: %v", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

var ack = frame(ipc.MsgHelloAck, 0, &ipc.HelloAck{Version: ipc.ExtVersion, Features: client.Features, Runtime: ipc.RuntimeVersion})

// firstContact is a first connection to p: the call with a deadline waits
// for the hello's answer, then goes with its CallHeader.
func firstContact(t *testing.T, p *peer, path string) {
	t.Helper()
	c := dial(t, path, negotiate)
	res := deadlineEcho(t, c, "first")
	p.accept()
	if got := p.frames(1); got[0] != ipc.MsgHello {
		t.Fatalf("first frame %v, want the hello", got)
	}
	p.expectNothing(100 * time.Millisecond)
	p.write(ack)
	if got := p.frames(2); got[0] != ipc.MsgCallHeader || got[1] != servertest.MsgEcho {
		t.Fatalf("after the hello's answer: %v, want a CallHeader and the Echo", got)
	}
	p.write(answer(1, "first"))
	if r := wait(t, res, "the first call"); r.err != nil {
		t.Fatal(r.err)
	}
	c.Close()
	p.nc.Close()
}

// secondContact makes a first contact with a scripted peer, then dials it
// again and starts a call with a deadline on the new connection, which
// the peer has accepted.
func secondContact(t *testing.T) (p *peer, path string, c *client.Conn, res <-chan result) {
	t.Helper()
	p, path = listenPeer(t)
	firstContact(t, p, path)
	c = dial(t, path, negotiate)
	res = deadlineEcho(t, c, "second")
	p.accept()
	return p, path, c, res
}

// A known server (it acknowledged a hello on an earlier connection) gets
// the hello, the first call's CallHeader and the call in one go.
func TestHelloNotAwaitedForKnownServer(t *testing.T) {
	leakCheck(t)
	p, _, c, res := secondContact(t)
	// The answer is held back until the call is in: a client that waited
	// for it would send nothing for helloTimeout, then the Echo alone.
	if got := p.frames(3); got[0] != ipc.MsgHello || got[1] != ipc.MsgCallHeader || got[2] != servertest.MsgEcho {
		t.Fatalf("a known server got %v, want the hello, the CallHeader and the Echo before any answer", got)
	}
	p.write(ack)
	p.write(answer(1, "second"))
	if r := wait(t, res, "the second call"); r.err != nil || r.resp.ID != "second" {
		t.Fatalf("second call: %+v, %v", r.resp, r.err)
	}
	if !c.Extended(context.Background()) {
		t.Error("the second connection is not extended")
	}
}

// Another socket file at the path is another server: its first call with a
// deadline waits for the hello's answer again.
func TestHelloAwaitedForReplacedServer(t *testing.T) {
	leakCheck(t)
	p, path := listenPeer(t)
	firstContact(t, p, path)

	// The new server binds beside and is renamed into place while the old
	// one still holds its socket file, so the two files differ.
	p2 := listenPeerAt(t, path+".new", path)
	firstContact(t, p2, path)
}

// A remembered server that answers a later hello as a legacy server: the
// connection breaks with an error saying so, the path is remembered as
// legacy, and the next connection speaks the base protocol.
func TestPresumedServerAnswersLegacy(t *testing.T) {
	leakCheck(t)
	p, path, c, res := secondContact(t)
	p.frames(3)
	p.write(frame(servertest.MsgStatus, 0, &servertest.Status{Err: "unknown request type 0xf0"}))
	r := wait(t, res, "the call")
	if r.err == nil || !strings.Contains(r.err.Error(), "answered this one's hello as a legacy server") {
		t.Fatalf("call = %v, want the connection broken: the server is legacy now", r.err)
	}
	p.nc.Close()

	c = dial(t, path, negotiate)
	res = deadlineEcho(t, c, "third")
	p.accept()
	if h := p.request(); h.MsgType != servertest.MsgEcho || h.SeqNo != 1 {
		t.Fatalf("the next connection sent %s seq %d, want the Echo in the base protocol", h.MsgType, h.SeqNo)
	}
	p.write(answer(1, "third"))
	if r := wait(t, res, "the third call"); r.err != nil {
		t.Fatal(r.err)
	}
}
