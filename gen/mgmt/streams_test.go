package mgmt_test

// The generated typed streams (Logs, Events): Recv, RecvInto, All, errors, a client going away.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// blockedLogs is a Logs handler that sends its snapshot and then blocks
// waiting for data that never comes; it reports on started when the snapshot
// is out and on ended when its ctx ended.
func blockedLogs(started, ended chan<- struct{}) *handler {
	return &handler{logs: func(ctx context.Context, r *mgmt.LogsRequestPayload, out mgmt.LogsSender) error {
		if err := out.Send(&mgmt.LogsStreamPayload{ID: r.ID, Data: []byte("snap")}); err != nil {
			return err
		}
		started <- struct{}{}
		never := make(chan []byte)
		select {
		case <-never:
		case <-ctx.Done():
			ended <- struct{}{}
		}
		return ctx.Err()
	}}
}

// A client going away mid-stream ends the handler's ctx promptly, whichever
// way the generated client goes: closing the typed stream, cancelling its
// ctx, or closing the Client of an untyped stream. (A raw connection cut:
// runtime/server's TestStreamClientGone.)
func TestStreamClientGoesAway(t *testing.T) {
	cases := map[string]func(t *testing.T, path string) (stop func()){
		"Close": func(t *testing.T, path string) func() {
			s, err := dial(t, path).Logs(testCtx(t), &mgmt.LogsRequestPayload{ID: "w", Follow: true})
			if err != nil {
				t.Fatalf("Logs: %v", err)
			}
			return func() { s.Close() }
		},
		"cancel": func(t *testing.T, path string) func() {
			ctx, cancel := context.WithCancel(context.Background())
			s, err := dial(t, path).Logs(ctx, &mgmt.LogsRequestPayload{ID: "w", Follow: true})
			if err != nil {
				t.Fatalf("Logs: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			if p, err := s.Recv(); err != nil || string(p.Data) != "snap" {
				t.Fatalf("snapshot = %+v, %v", p, err)
			}
			return func() {
				cancel()
				if _, err := s.Recv(); !errors.Is(err, context.Canceled) {
					t.Errorf("Recv after cancel = %v, want context.Canceled", err)
				}
			}
		},
		"untyped": func(t *testing.T, path string) func() {
			c := dial(t, path)
			if err := c.Stream(mgmt.MsgLogsRequest, &mgmt.LogsRequestPayload{ID: "w", Follow: true}); err != nil {
				t.Fatalf("Stream: %v", err)
			}
			return func() { c.Close() }
		},
	}
	for name, open := range cases {
		t.Run(name, func(t *testing.T) {
			noLeaks(t)
			started, ended := make(chan struct{}, 1), make(chan struct{}, 1)
			_, path, _ := startServer(t, blockedLogs(started, ended))
			stop := open(t, path)
			recv(t, started, "the stream handler")
			stop()
			within(t, ended, prompt, "handler ctx ending after the client went away")
		})
	}
}

// The same for Events, whose handler never sends a frame.
func TestEventsClientGoesAway(t *testing.T) {
	noLeaks(t)
	started, ended := make(chan struct{}, 1), make(chan struct{}, 1)
	h := &handler{events: func(ctx context.Context, _ *mgmt.EventsSubscribePayload, out mgmt.EventsSender) error {
		started <- struct{}{}
		if err := out.Ready(); err != nil { // Events returns once it is
			return err
		}
		<-ctx.Done()
		ended <- struct{}{}
		return nil
	}}
	_, path, _ := startServer(t, h)
	s, err := dial(t, path).Events(testCtx(t), nil)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	recv(t, started, "the events handler")
	s.Close()
	within(t, ended, prompt, "handler ctx ending after the client closed the stream")
}

// A stream that fails before its first frame is answered with the protocol's
// error response; the typed stream should surface it as a *RemoteError
// carrying the server's text, as unary calls do.
func TestStreamErrorIsRemoteError(t *testing.T) {
	noLeaks(t)
	_, path, _ := startServer(t, mgmt.UnimplementedHandler{})
	c := dial(t, path)
	s, err := c.Logs(testCtx(t), &mgmt.LogsRequestPayload{ID: "w"})
	if err != nil {
		t.Fatalf("Logs: %v", err)
	}
	defer s.Close()
	p, err := s.Recv()
	if err == nil || err == io.EOF {
		t.Fatalf("Recv = %+v, %v; want an error", p, err)
	}
	var re *client.RemoteError
	if errors.As(err, &re) && re.Text == "mgmt: not implemented" && re.Method == "Logs" {
		return
	}
	t.Fatalf("Recv = %v, want RemoteError Logs: mgmt: not implemented", err)
}

// The untyped cliwrap API of the generated Client: Call for unary requests,
// Stream and ReadFrame for a Logs follow on the client's own connection.
func TestUntypedAPI(t *testing.T) {
	noLeaks(t)
	chunks := make(chan string)
	_, path, _ := startServer(t, fullHandler(chunks))
	c := dial(t, path)

	hdr, body, err := c.Call(mgmt.MsgListRequest, nil)
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	var list mgmt.ListResponsePayload
	if err := ipc.DecodePayload(body, &list); err != nil || hdr.MsgType != mgmt.MsgListResponse || hdr.SeqNo != 1 || len(list.Entries) != 2 {
		t.Fatalf("Call(List) = %+v %+v (%v)", hdr, list, err)
	}
	raw, _ := (&mgmt.StatusRequestPayload{ID: "web"}).MarshalMsg(nil)
	hdr, body, err = c.Call(mgmt.MsgStatusRequest, raw) // raw msgpack bytes
	var st mgmt.StatusResponsePayload
	if err != nil || ipc.DecodePayload(body, &st) != nil || hdr.MsgType != mgmt.MsgStatusResponse || hdr.SeqNo != 2 || st.Entry.ID != "web" {
		t.Fatalf("Call(Status) = %+v %+v (%v)", hdr, st, err)
	}

	if err := c.Stream(mgmt.MsgLogsRequest, &mgmt.LogsRequestPayload{ID: "web", Follow: true}); err != nil {
		t.Fatalf("Stream: %v", err)
	}
	for i, want := range []string{"snapshot", "one", "two"} {
		if i > 0 {
			chunks <- want
		}
		hdr, body, err := c.ReadFrame()
		var p mgmt.LogsStreamPayload
		if err != nil || ipc.DecodePayload(body, &p) != nil || hdr.MsgType != mgmt.MsgLogsStream || string(p.Data) != want || p.EOF {
			t.Fatalf("ReadFrame %d = %+v %+v (%v), want %q", i, hdr, p, err, want)
		}
	}
	// The connection is dedicated to the stream now.
	if _, _, err := c.Call(mgmt.MsgListRequest, nil); err == nil {
		t.Error("Call on a streaming connection succeeded")
	}
}

// RecvInto decodes each frame into the caller's value: its Data buffer is
// reused when large enough, nothing of the previous frame survives, and the
// last frame (EOF true) ends the stream with io.EOF on the next call.
func TestStreamRecvIntoReuses(t *testing.T) {
	noLeaks(t)
	chunks := make(chan string, 3)
	_, path, _ := startServer(t, fullHandler(chunks))
	c := dial(t, path)
	st, err := c.Logs(testCtx(t), &mgmt.LogsRequestPayload{ID: "web", Stream: 1, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p := mgmt.LogsStreamPayload{Data: make([]byte, 0, 64)}
	backing := &p.Data[:1][0]
	chunks <- "first chunk"
	chunks <- "2nd"
	for i, want := range []string{"snapshot", "first chunk", "2nd"} {
		if err := st.RecvInto(&p); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if string(p.Data) != want || p.ID != "web" || p.Stream != 1 || p.EOF {
			t.Fatalf("frame %d: %+v, want data %q", i, p, want)
		}
		if &p.Data[:1][0] != backing {
			t.Fatalf("frame %d: Data reallocated although it had room", i)
		}
	}
	snap, err := c.Logs(testCtx(t), &mgmt.LogsRequestPayload{ID: "web"})
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	p = mgmt.LogsStreamPayload{ID: "stale", Data: []byte("stale data")}
	if err := snap.RecvInto(&p); err != nil || !p.EOF || p.ID != "web" || string(p.Data) != "snapshot" {
		t.Fatalf("snapshot: %+v, %v", p, err)
	}
	if err := snap.RecvInto(&p); err != io.EOF {
		t.Fatalf("after the last frame: %v, want io.EOF", err)
	}
}

// A large Data is decoded in place: the slice aliases the buffer the frame
// was read into (its spare capacity holds the frame's last field, "eof"
// false, where a copy has none), given back it takes the next frame, and a
// Data the caller keeps (p.Data set aside) or a buffer of the caller's own
// is never written by a later frame; on a mux stream and on a stream's own
// connection.
func TestStreamRecvIntoInPlace(t *testing.T) {
	noLeaks(t)
	eofFalse := []byte{0xa3, 'e', 'o', 'f', 0xc2}
	chunk := func(i int) string { return strings.Repeat(string(rune('a'+i%26)), 64<<10) }
	for _, legacy := range []bool{false, true} {
		chunks := make(chan string, 16)
		_, path, _ := startServer(t, fullHandler(chunks))
		c := dialOptions(t, path, mgmt.ClientOptions{Legacy: legacy})
		st, err := c.Logs(testCtx(t), &mgmt.LogsRequestPayload{ID: "web", Follow: true})
		if err != nil {
			t.Fatal(err)
		}
		var p mgmt.LogsStreamPayload
		if err := st.RecvInto(&p); err != nil || string(p.Data) != "snapshot" {
			t.Fatalf("legacy %v: snapshot %q, %v", legacy, p.Data, err)
		}
		n := 0
		next := func(p *mgmt.LogsStreamPayload) {
			t.Helper()
			chunks <- chunk(n)
			if err := st.RecvInto(p); err != nil || string(p.Data) != chunk(n) || p.ID != "web" {
				t.Fatalf("legacy %v: frame %d: %d bytes, ID %q, %v", legacy, n, len(p.Data), p.ID, err)
			}
			n++
		}
		inPlace := func(d []byte) bool { return bytes.HasPrefix(d[len(d):cap(d)], eofFalse) }

		next(&p) // nothing to reuse: decoded in place
		first := &p.Data[:1][0]
		for range 3 { // given back: the same buffer, in place again
			next(&p)
			if !inPlace(p.Data) || &p.Data[:1][0] != first {
				t.Fatalf("legacy %v: frame %d: in place %v, same buffer %v", legacy, n-1, inPlace(p.Data), &p.Data[:1][0] == first)
			}
		}
		kept, want := p.Data, chunk(n-1) // set aside: the caller's
		p.Data = nil
		next(&p)
		var q mgmt.LogsStreamPayload // two values in turn: neither writes over the other
		for range 2 {
			next(&q)
			if string(p.Data) != chunk(n-2) {
				t.Fatalf("legacy %v: frame %d into another value wrote over the one before", legacy, n-1)
			}
			next(&p)
			if string(q.Data) != chunk(n-2) {
				t.Fatalf("legacy %v: frame %d into another value wrote over the one before", legacy, n-1)
			}
		}
		own := make([]byte, 0, 80<<10) // a buffer of the caller's own is reused, not replaced
		p.Data = own
		next(&p)
		if &p.Data[:1][0] != &own[:1][0] {
			t.Errorf("legacy %v: the caller's own buffer was replaced", legacy)
		}
		next(&q)
		if string(kept) != want || string(own[:len(p.Data)]) != chunk(n-2) {
			t.Errorf("legacy %v: a Data set aside or the caller's buffer was written over by a later frame", legacy)
		}
		st.Close()
	}
}
