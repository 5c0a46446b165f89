package mgmt_test

// Lenient decoding of the generated request types (key order, unknown keys, integer forms)
// and pipelined requests, as a cliwrap client sends them.

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// mapBody encodes a msgpack map with its keys in the given order; each value
// is written by its func, so a test controls the exact integer form.
func mapBody(t *testing.T, kv ...any) []byte {
	t.Helper()
	var buf bytes.Buffer
	e := msgpack.NewEncoder(&buf)
	err := e.EncodeMapLen(len(kv) / 2)
	for i := 0; err == nil && i < len(kv); i += 2 {
		if err = e.EncodeString(kv[i].(string)); err == nil {
			err = kv[i+1].(func(*msgpack.Encoder) error)(e)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func i8(v int8) func(*msgpack.Encoder) error {
	return func(e *msgpack.Encoder) error { return e.EncodeInt8(v) }
}
func i64(v int64) func(*msgpack.Encoder) error {
	return func(e *msgpack.Encoder) error { return e.EncodeInt64(v) }
}
func u16(v uint16) func(*msgpack.Encoder) error {
	return func(e *msgpack.Encoder) error { return e.EncodeUint16(v) }
}
func u64(v uint64) func(*msgpack.Encoder) error {
	return func(e *msgpack.Encoder) error { return e.EncodeUint64(v) }
}
func str(v string) func(*msgpack.Encoder) error {
	return func(e *msgpack.Encoder) error { return e.EncodeString(v) }
}
func boolean(v bool) func(*msgpack.Encoder) error {
	return func(e *msgpack.Encoder) error { return e.EncodeBool(v) }
}
func value(v any) func(*msgpack.Encoder) error {
	return func(e *msgpack.Encoder) error { return e.Encode(v) }
}

// Requests decode whatever the key order, skipping unknown keys, with any
// integer form that fits; values that do not fit are malformed requests,
// answered with an error on a connection that is kept.
func TestWireLenientDecoding(t *testing.T) {
	noLeaks(t)
	got := make(chan mgmt.LogsRequestPayload, 1)
	h := fullHandler(nil)
	h.logs = func(_ context.Context, r *mgmt.LogsRequestPayload, out mgmt.LogsSender) error {
		got <- *r
		return out.Send(&mgmt.LogsStreamPayload{ID: r.ID, EOF: true}) // a snapshot, even when following
	}
	_, path, _ := startServer(t, h)
	c := rawDial(t, path)
	for name, tc := range map[string]struct {
		body []byte
		want mgmt.LogsRequestPayload
	}{
		"reordered, unknown keys, wide ints": {mapBody(t,
			"zz", value([]any{1, "x", nil}), "ln", i8(3), "f", boolean(true), "s", i64(1),
			"extra", value(map[string]any{"a": nil}), "id", str("w"), "sn", u64(5)),
			mgmt.LogsRequestPayload{ID: "w", Stream: 1, Follow: true, Lines: 3, SinceUnixNano: 5}},
		"signed form for uint8, uint16 for int": {mapBody(t, "s", i8(1), "id", str("v"), "ln", u16(60000)),
			mgmt.LogsRequestPayload{ID: "v", Stream: 1, Lines: 60000}},
		"empty map": {mapBody(t), mgmt.LogsRequestPayload{}},
	} {
		c.sendRaw(mgmt.MsgLogsRequest, tc.body)
		var f wLogsStream
		c.read(mgmt.MsgLogsStream, &f)
		r := recv(t, got, "the handler")
		if r != tc.want {
			t.Errorf("%s: handler got %+v, want %+v", name, r, tc.want)
		}
	}
	for name, body := range map[string][]byte{
		"256 for uint8":    mapBody(t, "id", str("w"), "s", u16(256)),
		"-1 for uint8":     mapBody(t, "id", str("w"), "s", i8(-1)),
		"int for bool":     mapBody(t, "id", str("w"), "f", i8(1)),
		"string for int":   mapBody(t, "id", str("w"), "ln", str("5")),
		"bin for a string": mapBody(t, "id", value([]byte("w"))),
	} {
		seq := c.sendRaw(mgmt.MsgLogsRequest, body)
		var st wStatusResponse
		c.readAnswer(seq, mgmt.MsgStatusResponse, &st)
		if !strings.HasPrefix(st.Err, "malformed Logs request: ") {
			t.Errorf("%s: answered %+v, want a malformed Logs request error", name, st)
		}
	}
	select {
	case r := <-got:
		t.Errorf("handler served a malformed request as %+v", r)
	default:
	}
	c.readAnswer(c.send(mgmt.MsgListRequest, nil), mgmt.MsgListResponse, &wListResponse{})
}

// Requests sent back to back, streams among them: each snapshot is one frame
// and the unary answers echo their seqs.
func TestWirePipelined(t *testing.T) {
	noLeaks(t)
	_, path, _ := startServer(t, fullHandler(nil))
	c := rawDial(t, path)
	var frames []byte
	add := func(mt ipc.MsgType, v any) {
		var body []byte
		if v != nil {
			body, _ = msgpack.Marshal(v)
		}
		c.seq++
		frames, _ = ipc.AppendFrame(frames, ipc.Header{MsgType: mt, SeqNo: c.seq}, body)
	}
	add(mgmt.MsgLogsRequest, wLogsRequest{ID: "one"})
	add(mgmt.MsgListRequest, nil)
	add(mgmt.MsgLogsRequest, wLogsRequest{ID: "two"})
	add(mgmt.MsgListRequest, nil)
	add(mgmt.MsgStatusRequest, wIDRequest{ID: "web"})
	if _, err := c.nc.Write(frames); err != nil {
		t.Fatal(err)
	}
	var f wLogsStream
	c.read(mgmt.MsgLogsStream, &f)
	if f.ID != "one" || !f.EOF {
		t.Errorf("first frame %+v, want the snapshot of one", f)
	}
	c.readAnswer(2, mgmt.MsgListResponse, &wListResponse{})
	f = wLogsStream{}
	c.read(mgmt.MsgLogsStream, &f)
	if f.ID != "two" || !f.EOF {
		t.Errorf("third frame %+v, want the snapshot of two", f)
	}
	seen := map[uint64]ipc.MsgType{}
	for range 2 { // calls after the last stream may be answered in any order
		h, body, err := c.fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		decodeStrict(t, body, map[ipc.MsgType]any{mgmt.MsgListResponse: &wListResponse{}, mgmt.MsgStatusResponse: &wStatusResponse{}}[h.MsgType])
		seen[h.SeqNo] = h.MsgType
	}
	if seen[4] != mgmt.MsgListResponse || seen[5] != mgmt.MsgStatusResponse {
		t.Errorf("answers by seq: %v, want 4: 0xa1, 5: 0xa3", seen)
	}
}
