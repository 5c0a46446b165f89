package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/status"
)

// The Logs answers a cliwrap client can see, as the real cliwrap manager
// gives them (docs/wire.md, "What the cliwrap manager answers").
func TestLogsLegacyAnswers(t *testing.T) {
	p := startProcd(t, shProc("x", "echo hello; exec sleep 30", ""))
	p.legacy(t)
	p.waitOutput(t, "x", 0, "hello\n")
	// Snapshots of an unknown process or stream: one empty frame, EOF true.
	for _, req := range []mgmt.LogsRequestPayload{
		{ID: "nope"}, {ID: "nope", Stream: 1}, {ID: "nope", Stream: 2},
		{ID: "x", Stream: 2}, {ID: "x", Stream: 255}, {ID: "nope", Lines: 3},
	} {
		if got := p.snapshot(t, req); got != "" {
			t.Errorf("logs %+v: data %q, want an empty snapshot", req, got)
		}
	}
	// A follow of a stream other than 0 or 1: one frame, EOF true, the
	// error in Data, then the stream ends (whether the id is known or not).
	for _, req := range []mgmt.LogsRequestPayload{
		{ID: "x", Stream: 2, Follow: true}, {ID: "x", Stream: 255, Follow: true}, {ID: "nope", Stream: 2, Follow: true},
	} {
		if got := p.snapshot(t, req); got != "invalid log stream 2 (want 0 for stdout or 1 for stderr)" &&
			got != "invalid log stream 255 (want 0 for stdout or 1 for stderr)" {
			t.Errorf("logs %+v: data %q, want the invalid stream error", req, got)
		}
	}
	// The connection is still good for other requests.
	if _, err := p.client.List(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	_, err := p.client.Status(testCtx(t), &mgmt.StatusRequestPayload{ID: "nope"})
	var re *client.RemoteError
	if !errors.As(err, &re) || re.Text != `unknown process "nope"` {
		t.Errorf("status of an unknown id: %v", err)
	}
}

// A follow of an unknown process: one empty frame with EOF false, then the
// stream stays open, silent, until the client goes or procd shuts down.
func TestLogsFollowUnknownProcess(t *testing.T) {
	p := startProcd(t, shProc("x", "exec sleep 30", ""))
	p.legacy(t)
	follow := func() *mgmt.LogsClientStream {
		t.Helper()
		st, err := p.client.Logs(testCtx(t), &mgmt.LogsRequestPayload{ID: "nope", Stream: 1, Follow: true})
		if err != nil {
			t.Fatal(err)
		}
		f, err := st.Recv()
		if err != nil || f.EOF || len(f.Data) != 0 || f.ID != "nope" || f.Stream != 1 {
			t.Fatalf("follow of an unknown id: first frame %+v, %v; want an empty frame with EOF false", f, err)
		}
		return st
	}
	// The client goes away: the stream's handler ends (goleak in TestMain).
	follow().Close()

	st := follow()
	defer st.Close()
	next := make(chan error, 1)
	go func() {
		f, err := st.Recv()
		if err == nil {
			err = fmt.Errorf("a second frame %+v", f)
		}
		next <- err
	}()
	// Other requests are served meanwhile; the stream stays silent.
	for range 20 {
		if _, err := p.client.List(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-next:
		t.Fatalf("follow of an unknown id ended before shutdown: %v", err)
	default:
	}
	p.shutdown()
	select {
	case err := <-next:
		if err != io.EOF {
			t.Errorf("follow of an unknown id at shutdown: %v, want the stream's end", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("follow of an unknown id still open 15s after shutdown")
	}
}

// On the wire, an empty snapshot's Data is msgpack nil (0xc0), as the
// reflection codec of a cliwrap manager writes a nil []byte.
func TestLogsEmptySnapshotBytes(t *testing.T) {
	p := startProcd(t, shProc("x", "exec sleep 30", ""))
	nc, err := net.Dial("unix", p.socket)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.SetDeadline(time.Now().Add(15 * time.Second)); err != nil {
		t.Fatal(err)
	}
	r := ipc.NewFrameReader(nc, 0)
	for i, req := range []mgmt.LogsRequestPayload{{ID: "nope"}, {ID: "x", Stream: 2}} {
		frame, err := ipc.AppendMsgFrame(nil, ipc.Header{MsgType: mgmt.MsgLogsRequest, SeqNo: uint64(i + 1)}, &req)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := nc.Write(frame); err != nil {
			t.Fatal(err)
		}
		h, body, err := r.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if h.MsgType != mgmt.MsgLogsStream {
			t.Fatalf("logs %+v: answered %v", req, h.MsgType)
		}
		vals := mapValues(t, body)
		if d := vals["d"]; len(d) != 1 || d[0] != 0xc0 {
			t.Errorf("logs %+v: d is % x, want c0 (nil)", req, d)
		}
		if eof := vals["eof"]; len(eof) != 1 || eof[0] != 0xc3 {
			t.Errorf("logs %+v: eof is % x, want c3 (true)", req, eof)
		}
	}
}

// mapValues splits a msgpack map into its values' raw bytes by key.
func mapValues(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	n, b, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	vals := make(map[string][]byte, n)
	for range n {
		var k string
		if k, b, err = msgp.ReadStringBytes(b); err != nil {
			t.Fatal(err)
		}
		rest, err := msgp.Skip(b)
		if err != nil {
			t.Fatal(err)
		}
		vals[k], b = b[:len(b)-len(rest)], rest
	}
	return vals
}

// On an extended connection the same mistakes end the stream with a code:
// an unknown process NotFound (snapshot or follow), a stream other than 0
// or 1 InvalidArgument; the connection goes on.
func TestLogsExtendedAnswers(t *testing.T) {
	p := startProcd(t, shProc("x", "exec sleep 30", ""))
	for _, tc := range []struct {
		req  mgmt.LogsRequestPayload
		code status.Code
	}{
		{mgmt.LogsRequestPayload{ID: "nope"}, status.NotFound},
		{mgmt.LogsRequestPayload{ID: "nope", Follow: true}, status.NotFound},
		{mgmt.LogsRequestPayload{ID: "x", Stream: 2}, status.InvalidArgument},
		{mgmt.LogsRequestPayload{ID: "x", Stream: 255, Follow: true}, status.InvalidArgument},
	} {
		st, err := p.client.Logs(testCtx(t), &tc.req)
		if err == nil {
			var f *mgmt.LogsStreamPayload
			f, err = st.Recv()
			st.Close()
			if err == nil {
				t.Errorf("logs %+v: frame %+v, want the stream to end with %v", tc.req, f, tc.code)
				continue
			}
		}
		if status.CodeOf(err) != tc.code {
			t.Errorf("logs %+v: %v (code %v), want %v", tc.req, err, status.CodeOf(err), tc.code)
		}
	}
	if _, err := p.client.List(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}
