package mgmt_test

// Requests the generated server refuses: unknown request types, payloads
// that do not decode into the mgmt request types (each answered with an
// error naming the call, and the field where it can), and the bounds on
// what an error answer echoes. The runtime's side of it (framing, hostile
// bytes, panics) is tested in runtime/server.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// Unknown request ids, inside and outside the schema's id range, are
// answered with StatusResponse "unknown request type 0xNN", echoing the seq;
// the connection is kept.
func TestUnknownRequestType(t *testing.T) {
	noLeaks(t)
	_, path, _ := startServer(t, fullHandler(nil))
	c := dialLegacy(t, path) // the base protocol's answers; ext_test.go has the extended ones
	for i, tc := range []struct {
		t    ipc.MsgType
		body []byte
		text string
	}{
		{0xAE, nil, "unknown request type 0xae"},
		{0x10, nil, "unknown request type 0x10"},
		{mgmt.MsgListResponse, nil, "unknown request type 0xa1"}, // a response id is no request
		{0x00, nil, "unknown request type 0x00"},
		{0x00, []byte{0x80}, "unknown request type 0x00"},
		{0xFF, []byte{0x80}, "unknown request type 0xff"},
		{0x9F, []byte{0x80}, "unknown request type 0x9f"}, // just below the schema's ids
		{0xB0, []byte{0x80}, "unknown request type 0xb0"}, // just above
		{mgmt.MsgLogsStream, []byte{0x80}, "unknown request type 0xa5"},
	} {
		hdr, body, err := c.Call(tc.t, tc.body)
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
	c := dialLegacy(t, path) // the base protocol's answers; ext_test.go has the extended ones
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
	c := dialLegacy(t, path) // the base protocol's answers; ext_test.go has the extended ones
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

// wrongTypes gives every request field a value of the wrong msgpack type.
var wrongTypes = []struct {
	t     ipc.MsgType
	key   string
	field string
	value []byte
}{
	{mgmt.MsgStatusRequest, "id", "ID", msgp.AppendInt(nil, 1)},
	{mgmt.MsgStartRequest, "id", "ID", msgp.AppendBool(nil, true)},
	{mgmt.MsgStopRequest, "id", "ID", msgp.AppendMapHeader(nil, 0)},
	{mgmt.MsgStatusRequest, "id", "ID", msgp.AppendBytes(nil, []byte("a"))},
	{mgmt.MsgLogsRequest, "id", "ID", msgp.AppendFloat64(nil, 1)},
	{mgmt.MsgLogsRequest, "s", "Stream", msgp.AppendString(nil, "stdout")},
	{mgmt.MsgLogsRequest, "s", "Stream", msgp.AppendInt(nil, 300)},
	{mgmt.MsgLogsRequest, "s", "Stream", msgp.AppendInt(nil, -1)},
	{mgmt.MsgLogsRequest, "f", "Follow", msgp.AppendInt(nil, 1)},
	{mgmt.MsgLogsRequest, "sn", "SinceUnixNano", msgp.AppendString(nil, "yesterday")},
	{mgmt.MsgLogsRequest, "ln", "Lines", msgp.AppendBool(nil, false)},
	{mgmt.MsgEventsSubscribe, "pids", "ProcessIDs", msgp.AppendString(nil, "a")},
	{mgmt.MsgEventsSubscribe, "pids", "ProcessIDs", msgp.AppendInt(msgp.AppendArrayHeader(nil, 1), 5)},
	{mgmt.MsgEventsSubscribe, "types", "Types", msgp.AppendMapHeader(nil, 0)},
}

// Every request field given a value of the wrong msgpack type is a
// malformed request naming the field, never served.
func TestWrongTypes(t *testing.T) {
	noLeaks(t)
	_, path, _ := startServer(t, fullHandler(nil))
	c := rawDial(t, path)
	for _, w := range wrongTypes {
		b := msgp.AppendMapHeader(nil, 1)
		b = msgp.AppendString(b, w.key)
		b = append(b, w.value...)
		var st wStatusResponse
		c.readAnswer(c.sendRaw(w.t, b), mgmt.MsgStatusResponse, &st)
		if !strings.Contains(st.Err, "malformed") || !strings.Contains(st.Err, w.field) {
			t.Errorf("%s %s=%x: Err %q, want a malformed-request error naming %s", w.t, w.key, w.value, st.Err, w.field)
		}
		if st.Entry != (wListEntry{}) {
			t.Errorf("%s %s: served as %+v", w.t, w.key, st.Entry)
		}
	}
	c.readAnswer(c.send(mgmt.MsgListRequest, nil), mgmt.MsgListResponse, &wListResponse{})
}

// Error answers stay bounded (256 bytes) where the schema's limits are
// what is broken: a 1 MiB id over max_len, a 1 MiB string for the uint8
// Stream, and a handler quoting an id over max_len (the generated glue
// copies a handler's error into Err as it is: the decoder refuses the id
// first). runtime/server's TestHostileBoundedErrorEcho covers the rest.
func TestBoundedErrorEcho(t *testing.T) {
	noLeaks(t)
	h := fullHandler(nil)
	h.status = func(_ context.Context, r *mgmt.StatusRequestPayload) (*mgmt.StatusResponsePayload, error) {
		return nil, fmt.Errorf("no process %q", r.ID)
	}
	_, path, _ := startServer(t, h)
	c := rawDial(t, path)
	huge := strings.Repeat("A", 1<<20)
	mapOf := func(key string, value []byte) []byte {
		b := msgp.AppendMapHeader(nil, 1)
		b = msgp.AppendString(b, key)
		return append(b, value...)
	}
	for _, cs := range []struct {
		name string
		t    ipc.MsgType
		body []byte
	}{
		{"huge id over max_len", mgmt.MsgStatusRequest, mapOf("id", msgp.AppendString(nil, huge))},
		{"huge string as stream", mgmt.MsgLogsRequest, mapOf("s", msgp.AppendString(nil, huge))},
		{"id just over max_len", mgmt.MsgStatusRequest, mapOf("id", msgp.AppendString(nil, strings.Repeat("B", 4097)))},
	} {
		var st wStatusResponse
		c.readAnswer(c.sendRaw(cs.t, cs.body), mgmt.MsgStatusResponse, &st)
		if st.Err == "" {
			t.Errorf("%s: no error", cs.name)
		}
		if len(st.Err) > 256 || strings.Contains(st.Err, "AAAAAAAA") || strings.Contains(st.Err, "BBBBBBBB") {
			t.Errorf("%s: Err echoes input (%d bytes): %.100q", cs.name, len(st.Err), st.Err)
		}
		t.Logf("%s: Err %q", cs.name, st.Err)
	}
}

// emptyError is an error whose text is empty.
type emptyError struct{}

func (emptyError) Error() string { return "" }

// A handler error on a call with an error field (Status) must reach the
// client as an error even when its text is empty, never as success.
// (runtime/server's TestEmptyErrorText covers the error response.)
func TestEmptyErrorTextInErrorField(t *testing.T) {
	noLeaks(t)
	h := &handler{status: func(context.Context, *mgmt.StatusRequestPayload) (*mgmt.StatusResponsePayload, error) {
		return nil, emptyError{}
	}}
	_, path, _ := startServer(t, h)
	c := dial(t, path)
	resp, err := c.Status(testCtx(t), &mgmt.StatusRequestPayload{ID: "x"})
	var re *client.RemoteError
	if !errors.As(err, &re) || re.Text == "" {
		t.Fatalf("Status whose handler failed with an empty text: %+v, %v; want a RemoteError with a text", resp, err)
	}
}
