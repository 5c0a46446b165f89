package mgmt_test

// The cliwrap wire byte for byte: a cliwrap-style client (reflection codec) against the
// generated server.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// The payloads of docs/wire.md as a cliwrap program declares them, for the
// reflection codec cliwrap uses (vmihailenco/msgpack v5, defaults).
type (
	wListEntry struct {
		ID       string `msgpack:"id"`
		Name     string `msgpack:"name"`
		State    string `msgpack:"state"`
		ChildPID int    `msgpack:"pid"`
		RSS      uint64 `msgpack:"rss"`
	}
	wListResponse struct {
		Entries []wListEntry `msgpack:"entries"`
	}
	// wIDRequest is the Status, Start and Stop request payload.
	wIDRequest struct {
		ID string `msgpack:"id"`
	}
	wStatusResponse struct {
		Entry wListEntry `msgpack:"entry"`
		Err   string     `msgpack:"err"`
	}
	wLogsRequest struct {
		ID     string `msgpack:"id"`
		Stream uint8  `msgpack:"s"`
		Follow bool   `msgpack:"f"`
	}
	wLogsStream struct {
		ID     string `msgpack:"id"`
		Stream uint8  `msgpack:"s"`
		Data   []byte `msgpack:"d"`
		EOF    bool   `msgpack:"eof"`
	}
	wEventsSubscribe struct {
		ProcessIDs []string `msgpack:"pids"`
	}
	wEventsSubscribeNew struct {
		ProcessIDs []string `msgpack:"pids"`
		Types      []string `msgpack:"types,omitempty"`
	}
	wEventsStream struct {
		ProcessID string `msgpack:"pid"`
		Type      string `msgpack:"t"`
		Timestamp int64  `msgpack:"ts"`
		Summary   string `msgpack:"sum"`
	}
)

// wEntry is entry(id) as cliwrap decodes it.
func wEntry(id string) wListEntry {
	e := entry(id)
	return wListEntry{ID: e.ID, Name: e.Name, State: e.State, ChildPID: e.ChildPID, RSS: e.RSS}
}

// rawConn is a cliwrap-style client: frames written by hand, payloads
// encoded and decoded by the reflection codec, requests numbered 1, 2, 3.
type rawConn struct {
	t   *testing.T
	nc  net.Conn
	fr  *ipc.FrameReader
	seq uint64
}

func rawDial(t *testing.T, path string) *rawConn {
	t.Helper()
	nc, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(waitFor))
	return &rawConn{t: t, nc: nc, fr: ipc.NewFrameReader(nc, 0)}
}

// send writes a request of type mt carrying v's reflection encoding (v nil:
// no payload) as one frame with the next seq, and returns the seq.
func (c *rawConn) send(mt ipc.MsgType, v any) uint64 {
	c.t.Helper()
	var body []byte
	if v != nil {
		var err error
		if body, err = msgpack.Marshal(v); err != nil {
			c.t.Fatalf("encode %T: %v", v, err)
		}
	}
	c.seq++
	frame, err := ipc.AppendFrame(nil, ipc.Header{MsgType: mt, SeqNo: c.seq}, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.nc.Write(frame); err != nil {
		c.t.Fatalf("write: %v", err)
	}
	return c.seq
}

// sendRaw writes one request frame with raw payload bytes.
func (c *rawConn) sendRaw(mt ipc.MsgType, body []byte) uint64 {
	c.t.Helper()
	c.seq++
	frame, _ := ipc.AppendFrame(nil, ipc.Header{MsgType: mt, SeqNo: c.seq}, body)
	if _, err := c.nc.Write(frame); err != nil {
		c.t.Fatalf("write: %v", err)
	}
	return c.seq
}

// read reads one frame and checks it is of type mt with flags 0; it decodes
// the payload strictly (no unknown keys) into v.
func (c *rawConn) read(mt ipc.MsgType, v any) ipc.Header {
	c.t.Helper()
	h, body, err := c.fr.ReadFrame()
	if err != nil {
		c.t.Fatalf("read, want a %s frame: %v", mt, err)
	}
	if h.MsgType != mt || h.Flags != 0 {
		c.t.Fatalf("got frame %s flags %#x (%q), want %s flags 0", h.MsgType, h.Flags, body, mt)
	}
	decodeStrict(c.t, body, v)
	return h
}

// readAnswer reads the answer to seq: a frame of type mt echoing seq.
func (c *rawConn) readAnswer(seq uint64, mt ipc.MsgType, v any) {
	c.t.Helper()
	if h := c.read(mt, v); h.SeqNo != seq {
		c.t.Fatalf("answer %s has seq %d, want %d", mt, h.SeqNo, seq)
	}
}

// decodeStrict decodes body with the reflection codec, refusing keys v does
// not declare, and checks that the map carries every key v declares.
func decodeStrict(t *testing.T, body []byte, v any) {
	t.Helper()
	d := msgpack.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields(true)
	if err := d.Decode(v); err != nil {
		t.Fatalf("reflection codec cannot decode %x into %T: %v", body, v, err)
	}
	var m map[string]any
	if err := msgpack.Unmarshal(body, &m); err != nil {
		t.Fatalf("payload %x is not a map: %v", body, err)
	}
	typ := reflect.TypeOf(v).Elem()
	for i := range typ.NumField() {
		key, _, _ := strings.Cut(typ.Field(i).Tag.Get("msgpack"), ",")
		if _, ok := m[key]; !ok {
			t.Errorf("%T payload lacks key %q: %v", v, key, m)
		}
	}
}

// A cliwrap client's session on one connection: a zero-length List, two Logs
// snapshots (each exactly one 0xA5 frame with EOF, the connection then takes
// requests again), Status/Start/Stop, an unknown id, and List again.
func TestWireCliwrapSession(t *testing.T) {
	noLeaks(t)
	_, path, _ := startServer(t, fullHandler(nil))
	c := rawDial(t, path)
	wantList := wListResponse{Entries: []wListEntry{wEntry("a"), wEntry("b")}}

	var list wListResponse
	c.readAnswer(c.send(mgmt.MsgListRequest, nil), mgmt.MsgListResponse, &list)
	if !reflect.DeepEqual(list, wantList) {
		t.Errorf("List = %+v, want %+v", list, wantList)
	}
	for _, stream := range []uint8{0, 1} {
		c.send(mgmt.MsgLogsRequest, wLogsRequest{ID: "web", Stream: stream})
		var snap wLogsStream
		c.read(mgmt.MsgLogsStream, &snap) // stream frames: any seq
		want := wLogsStream{ID: "web", Stream: stream, Data: []byte("snapshot"), EOF: true}
		if !reflect.DeepEqual(snap, want) {
			t.Errorf("snapshot = %+v, want %+v", snap, want)
		}
	}
	list = wListResponse{}
	c.readAnswer(c.send(mgmt.MsgListRequest, nil), mgmt.MsgListResponse, &list)
	if !reflect.DeepEqual(list, wantList) {
		t.Errorf("List after snapshots = %+v", list)
	}

	for _, tc := range []struct {
		mt    ipc.MsgType
		id    string
		state string
	}{{mgmt.MsgStatusRequest, "web", "running"}, {mgmt.MsgStartRequest, "web", "starting"}, {mgmt.MsgStopRequest, "db", "stopped"}} {
		var st wStatusResponse
		c.readAnswer(c.send(tc.mt, wIDRequest{ID: tc.id}), mgmt.MsgStatusResponse, &st)
		want := wEntry(tc.id)
		want.State = tc.state
		if st.Err != "" || st.Entry != want {
			t.Errorf("%s(%s) = %+v, want %+v", tc.mt, tc.id, st, want)
		}
	}
	var st wStatusResponse
	c.readAnswer(c.send(mgmt.MsgStatusRequest, wIDRequest{ID: "nope"}), mgmt.MsgStatusResponse, &st)
	if st.Err != `no process "nope"` || st.Entry != (wListEntry{}) {
		t.Errorf("Status(nope) = %+v, want Err and a zero entry", st)
	}
	st = wStatusResponse{}
	c.readAnswer(c.send(0xAE, nil), mgmt.MsgStatusResponse, &st)
	if st.Err != "unknown request type 0xae" {
		t.Errorf("unknown type answered %+v", st)
	}
	list = wListResponse{}
	c.readAnswer(c.send(mgmt.MsgListRequest, nil), mgmt.MsgListResponse, &list)
	if c.seq != 10 || !reflect.DeepEqual(list, wantList) {
		t.Errorf("last List (seq %d) = %+v", c.seq, list)
	}
}

// A subscribe from an old cliwrap client (nil pids, as msgpack nil) and one
// from a newer client with types both work.
func TestWireEvents(t *testing.T) {
	noLeaks(t)
	got := make(chan *mgmt.EventsSubscribePayload, 2)
	h := &handler{events: func(_ context.Context, r *mgmt.EventsSubscribePayload, out mgmt.EventsSender) error {
		got <- r
		for _, id := range []string{"a", "b"} {
			if err := out.Send(&mgmt.EventsStreamPayload{ProcessID: id, Type: "process.stopped", Timestamp: 7, Summary: "exit 0"}); err != nil {
				return err
			}
		}
		return nil
	}}
	_, path, _ := startServer(t, h)
	old, _ := msgpack.Marshal(wEventsSubscribe{})
	if want := []byte{0x81, 0xA4, 'p', 'i', 'd', 's', 0xC0}; !bytes.Equal(old, want) {
		t.Fatalf("reflection codec encodes nil pids as %x, want %x", old, want)
	}
	for _, sub := range []any{wEventsSubscribe{}, wEventsSubscribeNew{ProcessIDs: []string{"a"}, Types: []string{"process.stopped"}}} {
		c := rawDial(t, path)
		c.send(mgmt.MsgEventsSubscribe, sub)
		for _, id := range []string{"a", "b"} {
			var ev wEventsStream
			c.read(mgmt.MsgEventsStream, &ev)
			if want := (wEventsStream{ProcessID: id, Type: "process.stopped", Timestamp: 7, Summary: "exit 0"}); ev != want {
				t.Errorf("event = %+v, want %+v", ev, want)
			}
		}
		if _, _, err := c.fr.ReadFrame(); err != io.EOF {
			t.Errorf("after the handler returned: %v, want io.EOF", err)
		}
		r := recv(t, got, "the subscribe")
		var want mgmt.EventsSubscribePayload
		if s, ok := sub.(wEventsSubscribeNew); ok {
			want = mgmt.EventsSubscribePayload{ProcessIDs: s.ProcessIDs, Types: s.Types}
		}
		if len(r.ProcessIDs) != len(want.ProcessIDs) || !slices.Equal(r.ProcessIDs, want.ProcessIDs) || !slices.Equal(r.Types, want.Types) {
			t.Errorf("handler got %+v, want %+v", r, want)
		}
	}
}

// After a Logs follow the connection is dedicated to the stream: frames of
// the stream only, a request sent meanwhile is not answered.
func TestWireLogsFollow(t *testing.T) {
	noLeaks(t)
	chunks := make(chan string)
	srv, path, _ := startServer(t, fullHandler(chunks))
	c := rawDial(t, path)
	c.send(mgmt.MsgLogsRequest, wLogsRequest{ID: "web", Follow: true})
	var f wLogsStream
	c.read(mgmt.MsgLogsStream, &f)
	if string(f.Data) != "snapshot" || f.EOF {
		t.Fatalf("follow snapshot = %+v, want EOF false", f)
	}
	c.send(mgmt.MsgListRequest, nil)
	for _, chunk := range []string{"one\n", "two\n"} {
		chunks <- chunk
		f = wLogsStream{}
		c.read(mgmt.MsgLogsStream, &f)
		if want := (wLogsStream{ID: "web", Data: []byte(chunk)}); !reflect.DeepEqual(f, want) {
			t.Errorf("chunk = %+v, want %+v", f, want)
		}
	}
	closed := make(chan error, 1)
	go func() { closed <- srv.Close(context.Background()) }()
	for {
		h, body, err := c.fr.ReadFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil || h.MsgType != mgmt.MsgLogsStream {
			t.Fatalf("on a followed stream: %s %x %v; want only 0xa5 frames, then EOF", h.MsgType, body, err)
		}
	}
	if err := recv(t, closed, "server Close"); err != nil {
		t.Errorf("Close = %v", err)
	}
}
