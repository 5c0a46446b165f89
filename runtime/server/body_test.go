package server_test

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

// Request bodies (call.go: request.bodyBuf): one of up to 64 bytes is read
// into its request's own storage, which the connection's next request
// reuses (the spare) or the pool hands on; a larger one into a pooled
// buffer. Either way each body is its call's alone until decoded.

// mdEcho answers Echo with the request's ID followed by "|" and the
// call's metadata "k" (empty without metadata).
func mdEcho() *servertest.Handler {
	return &servertest.Handler{Echo: func(ctx context.Context, req *servertest.EchoRequest) (*servertest.EchoResponse, error) {
		resp, err := servertest.DefaultEcho(ctx, req)
		if err == nil {
			resp.ID += "|" + server.Metadata(ctx)["k"]
		}
		return resp, err
	}}
}

// bodyServer starts a server answering mdEcho and returns an extended
// connection to it, the IDs of bodyIDs and a random source seeded with a, b.
func bodyServer(t *testing.T, a, b uint64) (*rawConn, []string, *rand.Rand) {
	t.Helper()
	leakCheck(t)
	_, path := startServer(t, server.Options{}, mdEcho())
	return extRaw(t, path), bodyIDs(t), rand.New(rand.NewPCG(a, b))
}

// bodyIDs returns IDs whose Echo bodies (with N set) run from under 40 to
// over 90 bytes, and checks that they fall on both sides of 64.
func bodyIDs(t *testing.T) []string {
	t.Helper()
	var ids []string
	sizes := map[int]bool{}
	for n := range 70 {
		id := strings.Repeat(string(rune('a'+n%26)), n)
		b, err := (&servertest.EchoRequest{ID: id, N: n}).MarshalMsg(nil)
		if err != nil {
			t.Fatal(err)
		}
		sizes[len(b)] = true
		ids = append(ids, id)
	}
	if !sizes[63] || !sizes[64] || !sizes[65] || !sizes[40] || !sizes[90] {
		t.Fatalf("body sizes %v miss the edge", sizes)
	}
	return ids
}

// sendEcho writes call seq: plain (hdr nil) or behind a CallHeader, in one
// write.
func (r *rawConn) sendEcho(seq uint64, hdr *ipc.CallHeader, req *servertest.EchoRequest) {
	r.t.Helper()
	if hdr == nil {
		r.sendMsg(servertest.MsgEcho, seq, req)
		return
	}
	r.sendCall(seq, hdr, req)
}

// bodyCall is one call's request and the ID its answer must carry.
type bodyCall struct {
	hdr  *ipc.CallHeader
	req  servertest.EchoRequest
	want string
}

// newBodyCall makes the call for id: by kind, plain, behind a header with
// metadata and a deadline (so it may be served inline), or with metadata
// and no deadline (on a handler goroutine).
func newBodyCall(id string, n, kind int, rng *rand.Rand) bodyCall {
	c := bodyCall{req: servertest.EchoRequest{ID: id, N: n}, want: id + "|"}
	if kind == 0 {
		return c
	}
	md := strings.Repeat("m", rng.IntN(50))
	c.hdr = &ipc.CallHeader{Metadata: map[string]string{"k": md}}
	if kind == 1 {
		c.hdr.Timeout = int64(time.Minute)
	}
	c.want += md
	return c
}

// Calls on one connection whose bodies fall on both sides of 64 bytes, in
// a random order, plain and behind CallHeaders carrying metadata, each
// answered before the next is sent (served inline once Echo qualifies, the
// request struct reused from call to call), each get their own ID, N and
// metadata back.
func TestBodiesOneByOne(t *testing.T) {
	r, ids, rng := bodyServer(t, 1, 2)
	seq := uint64(0)
	for range 3 {
		rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		for _, id := range ids {
			seq++
			c := newBodyCall(id, len(id), rng.IntN(3), rng)
			r.sendEcho(seq, c.hdr, &c.req)
			if got := r.echo(seq); got.ID != c.want || got.N != c.req.N {
				t.Fatalf("call %d (ID %d bytes, header %v): got ID %q N %d, want %q N %d", seq, len(id), c.hdr != nil, got.ID, got.N, c.want, c.req.N)
			}
		}
	}
}

// Calls sent together in one write, bodies on both sides of 64 bytes, plain
// and with metadata, a third of them slow (never inline: their handlers
// run on goroutines of their own at once, decoding while the reader reads
// the requests after theirs into other storage), each get their own ID, N
// and metadata back, whatever order the answers come in.
func TestBodiesPipelined(t *testing.T) {
	r, ids, rng := bodyServer(t, 3, 4)
	seq := uint64(0)
	for round := range 4 {
		rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		calls := map[uint64]bodyCall{}
		var batch []byte
		for i, id := range ids[:60] { // within MaxCallsPerConn (64)
			seq++
			c := newBodyCall(id, int(seq), rng.IntN(3), rng)
			if (i+round)%3 == 0 {
				c.req.Sleep = time.Millisecond
			}
			var err error
			if c.hdr != nil {
				batch = c.hdr.AppendFrame(batch, seq)
			}
			if batch, err = ipc.AppendMsgFrame(batch, ipc.Header{MsgType: servertest.MsgEcho, SeqNo: seq}, &c.req); err != nil {
				t.Fatal(err)
			}
			calls[seq] = c
		}
		r.write(batch)
		for range len(calls) {
			h, body := r.next()
			c, ok := calls[h.SeqNo]
			if h.MsgType != servertest.MsgEchoResponse || !ok {
				t.Fatalf("round %d: got frame %s seq %d (%q), want an Echo answer to an open call", round, h.MsgType, h.SeqNo, body)
			}
			delete(calls, h.SeqNo)
			var got servertest.EchoResponse
			if err := ipc.DecodePayload(body, &got); err != nil {
				t.Fatal(err)
			}
			if got.ID != c.want || got.N != c.req.N {
				t.Fatalf("round %d, call %d (ID %d bytes, header %v, slow %v): got ID %q N %d, want %q N %d",
					round, h.SeqNo, len(c.req.ID), c.hdr != nil, c.req.Sleep > 0, got.ID, got.N, c.want, c.req.N)
			}
		}
	}
}
