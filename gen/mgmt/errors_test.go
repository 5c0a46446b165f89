package mgmt_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// A handler panic is recovered, answered with a clear error, logged, and the
// connection stays usable.
func TestHandlerPanic(t *testing.T) {
	noLeaks(t)
	h := fullHandler(nil)
	h.status = func(context.Context, *mgmt.StatusRequestPayload) (*mgmt.StatusResponsePayload, error) {
		panic("boom in status")
	}
	h.list = func(context.Context) (*mgmt.ListResponsePayload, error) {
		panic("boom in list")
	}
	_, path, logs := startServer(t, h)
	c := dial(t, path)
	ctx := testCtx(t)
	for _, tc := range []struct {
		method string
		call   func() error
	}{
		{"Status", func() error { _, err := c.Status(ctx, &mgmt.StatusRequestPayload{ID: "x"}); return err }},
		{"List", func() error { _, err := c.List(ctx); return err }},
	} {
		err := tc.call()
		var re *client.RemoteError
		if !errors.As(err, &re) || re.Method != tc.method || !strings.Contains(re.Text, "panic") || !strings.Contains(re.Text, tc.method) {
			t.Errorf("%s after a panic: %v, want RemoteError naming the panic and the method", tc.method, err)
		}
		if resp, err := c.Start(ctx, &mgmt.StartRequestPayload{ID: "ok"}); err != nil || resp.Entry.ID != "ok" {
			t.Fatalf("Start after a %s panic = %+v, %v; connection not usable", tc.method, resp, err)
		}
	}
	out := logs.String()
	for _, want := range []string{"level=ERROR", "handler panic", "boom in status", "boom in list", "method=Status", "method=List"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

// Unknown request ids, inside and outside the schema's id range, are
// answered with StatusResponse "unknown request type 0xNN", echoing the seq;
// the connection is kept.
func TestUnknownRequestType(t *testing.T) {
	noLeaks(t)
	_, path, _ := startServer(t, fullHandler(nil))
	c := dial(t, path)
	for i, tc := range []struct {
		t    ipc.MsgType
		text string
	}{
		{0xAE, "unknown request type 0xae"},
		{0x10, "unknown request type 0x10"},
		{mgmt.MsgListResponse, "unknown request type 0xa1"}, // a response id is no request
		{0x00, "unknown request type 0x00"},
	} {
		hdr, body, err := c.Call(tc.t, nil)
		if err != nil {
			t.Fatalf("Call(%s): %v", tc.t, err)
		}
		var p mgmt.StatusResponsePayload
		if err := ipc.DecodePayload(body, &p); err != nil || hdr.MsgType != mgmt.MsgStatusResponse || p.Err != tc.text {
			t.Errorf("Call(%s) = %s %+v (%v), want 0xa3 with Err %q", tc.t, hdr.MsgType, p, err, tc.text)
		}
		if want := uint64(2*i + 1); hdr.SeqNo != want {
			t.Errorf("Call(%s) answered seq %d, want %d", tc.t, hdr.SeqNo, want)
		}
		if _, err := c.List(testCtx(t)); err != nil {
			t.Fatalf("List after unknown type %s: %v", tc.t, err)
		}
	}
}

// A payload that does not decode into the request type is answered with a
// clear error, never served as the zero value, and the connection is kept.
func TestMalformedPayload(t *testing.T) {
	noLeaks(t)
	var served atomic.Int32
	h := fullHandler(nil)
	h.status = func(_ context.Context, r *mgmt.StatusRequestPayload) (*mgmt.StatusResponsePayload, error) {
		served.Add(1)
		return &mgmt.StatusResponsePayload{Entry: entry(r.ID)}, nil
	}
	_, path, _ := startServer(t, h)
	c := dial(t, path)
	valid, _ := (&mgmt.StatusRequestPayload{ID: "x"}).MarshalMsg(nil)
	for name, body := range map[string][]byte{
		"never-used byte 0xc1": {0xC1},
		"array for a map":      {0x91, 0xA1, 'x'},
		"string for a map":     {0xA3, 'a', 'b', 'c'},
		"truncated map":        {0x81, 0xA2, 'i', 'd'},
		"id of the wrong type": {0x81, 0xA2, 'i', 'd', 0x2A},
		"trailing bytes":       append(append([]byte(nil), valid...), 0xC0),
		"two nils":             {0xC0, 0xC0},
	} {
		hdr, resp, err := c.Call(mgmt.MsgStatusRequest, body)
		if err != nil {
			t.Fatalf("%s: Call: %v", name, err)
		}
		var p mgmt.StatusResponsePayload
		if err := ipc.DecodePayload(resp, &p); err != nil || hdr.MsgType != mgmt.MsgStatusResponse ||
			!strings.HasPrefix(p.Err, "malformed Status request: ") || p.Entry != (mgmt.ListEntry{}) {
			t.Errorf("%s: answer %s %+v (%v), want 0xa3 with Err \"malformed Status request: ...\"", name, hdr.MsgType, p, err)
		}
	}
	if n := served.Load(); n != 0 {
		t.Errorf("handler served %d malformed requests", n)
	}
	// The connection is kept, and a well-formed request is served.
	for _, id := range []string{"fine", strings.Repeat("x", 4096)} {
		if resp, err := c.Status(testCtx(t), &mgmt.StatusRequestPayload{ID: id}); err != nil || resp.Entry.ID != id {
			t.Errorf("Status(%.10s...) after malformed requests = %.40v, %v", id, resp, err)
		}
	}
	// An empty payload decodes as the zero value (docs/wire.md, "Payload encoding").
	hdr, resp, err := c.Call(mgmt.MsgStatusRequest, nil)
	var p mgmt.StatusResponsePayload
	if err != nil || ipc.DecodePayload(resp, &p) != nil || hdr.MsgType != mgmt.MsgStatusResponse || p.Err != "" || p.Entry.ID != "" {
		t.Errorf("empty Status request = %s %+v (%v), want the zero request served", hdr.MsgType, p, err)
	}
	if n := served.Load(); n != 3 {
		t.Errorf("handler served %d requests, want 3", n)
	}
}

// Malformed stream requests are refused the same way, and a garbage List
// body (List has no payload) too.
func TestMalformedStreamAndList(t *testing.T) {
	noLeaks(t)
	var served atomic.Int32
	h := fullHandler(nil)
	h.logs = func(context.Context, *mgmt.LogsRequestPayload, mgmt.LogsSender) error {
		served.Add(1)
		return nil
	}
	h.list = func(context.Context) (*mgmt.ListResponsePayload, error) {
		served.Add(1)
		return nil, nil
	}
	_, path, _ := startServer(t, h)
	c := dial(t, path)
	for _, tc := range []struct {
		t    ipc.MsgType
		body []byte
		want string
	}{
		{mgmt.MsgLogsRequest, []byte{0xC1}, "malformed Logs request: "},
		{mgmt.MsgEventsSubscribe, []byte{0x91, 0xC0}, "malformed Events request: "},
		{mgmt.MsgListRequest, []byte{0xC1}, "malformed List request: "},
	} {
		hdr, resp, err := c.Call(tc.t, tc.body)
		if err != nil {
			t.Fatalf("Call(%s): %v", tc.t, err)
		}
		var p mgmt.StatusResponsePayload
		if err := ipc.DecodePayload(resp, &p); err != nil || hdr.MsgType != mgmt.MsgStatusResponse || !strings.HasPrefix(p.Err, tc.want) {
			t.Errorf("Call(%s, garbage) = %s %+v (%v), want Err %q...", tc.t, hdr.MsgType, p, err, tc.want)
		}
	}
	if n := served.Load(); n != 0 {
		t.Errorf("handlers served %d malformed requests", n)
	}
	if _, _, err := c.Call(mgmt.MsgListRequest, nil); err != nil {
		t.Errorf("connection not kept: %v", err)
	}
}

// A stream handler panic is recovered and logged: before the first frame the
// client's Recv fails, after it the stream ends; other connections go on.
func TestStreamHandlerPanic(t *testing.T) {
	noLeaks(t)
	h := fullHandler(nil)
	h.events = func(_ context.Context, r *mgmt.EventsSubscribePayload, out mgmt.EventsSender) error {
		if len(r.ProcessIDs) > 0 {
			if err := out.Send(&mgmt.EventsStreamPayload{ProcessID: r.ProcessIDs[0]}); err != nil {
				return err
			}
		}
		panic("boom in events")
	}
	_, path, logs := startServer(t, h)
	c := dial(t, path)
	ctx := testCtx(t)
	s, err := c.Events(ctx, nil)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	if p, err := s.Recv(); err == nil || err == io.EOF {
		t.Errorf("Recv from a stream whose handler panicked at once = %+v, %v; want an error", p, err)
	}
	s.Close()
	s, err = c.Events(ctx, &mgmt.EventsSubscribePayload{ProcessIDs: []string{"a"}})
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	if p, err := s.Recv(); err != nil || p.ProcessID != "a" {
		t.Fatalf("first event = %+v, %v", p, err)
	}
	if p, err := s.Recv(); err == nil {
		t.Errorf("Recv after the handler panicked = %+v, want the stream ended", p)
	}
	s.Close()
	if _, err := c.List(ctx); err != nil {
		t.Errorf("List after stream panics: %v", err)
	}
	if out := logs.String(); strings.Count(out, "boom in events") != 2 || !strings.Contains(out, "method=Events") {
		t.Errorf("stream panics not logged twice:\n%s", out)
	}
}
