package mgmt_test

// The generated client against a fake cliwrap manager that speaks as the real one does.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/internal/fakeserver"
	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// wLogsRequestNew is LogsRequestPayload as later cliwrap versions declare it.
type wLogsRequestNew struct {
	ID            string `msgpack:"id"`
	Stream        uint8  `msgpack:"s"`
	Follow        bool   `msgpack:"f"`
	SinceUnixNano int64  `msgpack:"sn,omitempty"`
	Lines         int    `msgpack:"ln,omitempty"`
}

// fakeManager speaks the manager side the way cliwrap's does: frames by
// hand, payloads by the reflection codec (nil slices as msgpack nil), unary
// answers echoing the seq, stream frames with seq 0.
type fakeManager struct {
	stop func() // closes the manager; returns once every connection has ended

	mu   sync.Mutex
	reqs []fakeReq // every request received, in order
	errs []error   // what the manager could not accept
}

type fakeReq struct {
	h    ipc.Header
	body []byte
	conn int // connection number, from 1
}

func startFakeManager(t *testing.T) (*fakeManager, string) {
	path := sockPath(t)
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	m := &fakeManager{}
	t.Cleanup(func() { // after the server's end (cleanups run last first)
		for _, err := range m.errs {
			t.Errorf("fake manager: %v", err)
		}
	})
	m.stop = fakeserver.Start(t, l, func(nc net.Conn, n int) {
		nc.SetDeadline(time.Now().Add(waitFor))
		m.serve(nc, n)
	})
	return m, path
}

func (m *fakeManager) fail(err error) {
	m.mu.Lock()
	m.errs = append(m.errs, err)
	m.mu.Unlock()
}

// decode decodes body strictly into v, as a manager with cliwrap's structs.
func (m *fakeManager) decode(body []byte, v any) {
	d := msgpack.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields(true)
	if err := d.Decode(v); err != nil {
		m.fail(fmt.Errorf("cannot decode %x into %T: %w", body, v, err))
	}
}

func (m *fakeManager) serve(nc net.Conn, n int) {
	defer nc.Close()
	fr := ipc.NewFrameReader(nc, 0)
	send := func(mt ipc.MsgType, seq uint64, v any) {
		body, err := msgpack.Marshal(v)
		if err == nil {
			var frame []byte
			frame, err = ipc.AppendFrame(nil, ipc.Header{MsgType: mt, SeqNo: seq}, body)
			if err == nil {
				_, err = nc.Write(frame)
			}
		}
		if err != nil {
			m.fail(err)
		}
	}
	for {
		h, body, err := fr.ReadFrame()
		if err != nil {
			return
		}
		m.mu.Lock()
		m.reqs = append(m.reqs, fakeReq{h: h, body: body, conn: n})
		m.mu.Unlock()
		switch h.MsgType {
		case mgmt.MsgListRequest:
			send(mgmt.MsgListResponse, h.SeqNo, wListResponse{}) // entries: nil
		case mgmt.MsgStatusRequest, mgmt.MsgStartRequest, mgmt.MsgStopRequest:
			var r wIDRequest
			m.decode(body, &r)
			if r.ID == "nope" {
				send(mgmt.MsgStatusResponse, h.SeqNo, wStatusResponse{Err: "process not found"})
			} else {
				send(mgmt.MsgStatusResponse, h.SeqNo, wStatusResponse{Entry: wEntry(r.ID)})
			}
		case mgmt.MsgLogsRequest:
			var r wLogsRequestNew
			m.decode(body, &r)
			if !r.Follow {
				send(mgmt.MsgLogsStream, 0, wLogsStream{ID: r.ID, Stream: r.Stream, EOF: true}) // d: nil
				continue
			}
			send(mgmt.MsgLogsStream, 0, wLogsStream{ID: r.ID, Stream: r.Stream, Data: []byte("old\n")})
			send(mgmt.MsgLogsStream, 0, wLogsStream{ID: r.ID, Stream: r.Stream, Data: []byte("new\n")})
			return
		case mgmt.MsgEventsSubscribe:
			var r wEventsSubscribeNew
			m.decode(body, &r)
			send(mgmt.MsgEventsStream, 0, wEventsStream{ProcessID: "a", Type: "process.crashed", Timestamp: 1, Summary: "signal 9"})
			return
		default:
			send(mgmt.MsgStatusResponse, h.SeqNo, wStatusResponse{Err: "unknown request type " + h.MsgType.String()})
		}
	}
}

// The generated client against a cliwrap-style manager: it sends what such a
// manager expects and accepts what it answers.
func TestClientAgainstCliwrapManager(t *testing.T) {
	noLeaks(t)
	m, path := startFakeManager(t)
	c := dial(t, path)
	ctx := testCtx(t)

	if list, err := c.List(ctx); err != nil || len(list.Entries) != 0 {
		t.Fatalf("List = %+v, %v; want no entries", list, err)
	}
	if st, err := c.Status(ctx, &mgmt.StatusRequestPayload{ID: "web"}); err != nil || st.Entry != entry("web") {
		t.Errorf("Status = %+v, %v", st, err)
	}
	_, err := c.Stop(ctx, &mgmt.StopRequestPayload{ID: "nope"})
	if re := (*client.RemoteError)(nil); !errors.As(err, &re) || re.Text != "process not found" {
		t.Errorf("Stop(nope) = %v, want RemoteError process not found", err)
	}
	if _, err := c.Start(ctx, &mgmt.StartRequestPayload{ID: "web"}); err != nil {
		t.Errorf("Start: %v", err)
	}
	s, err := c.Logs(ctx, &mgmt.LogsRequestPayload{ID: "web", Stream: 1})
	if err != nil {
		t.Fatalf("Logs: %v", err)
	}
	if p, err := s.Recv(); err != nil || !p.EOF || len(p.Data) != 0 || p.Stream != 1 {
		t.Errorf("snapshot with nil data = %+v, %v", p, err)
	}
	s.Close()
	s, err = c.Logs(ctx, &mgmt.LogsRequestPayload{ID: "web", Follow: true, Lines: 10})
	if err != nil {
		t.Fatalf("Logs follow: %v", err)
	}
	var data []string
	for p, err := range s.All() {
		if err != nil {
			t.Fatalf("Logs follow: %v", err)
		}
		data = append(data, string(p.Data))
	}
	if !slices.Equal(data, []string{"old\n", "new\n"}) {
		t.Errorf("followed %q", data)
	}
	ev, err := c.Events(ctx, nil)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	if p, err := ev.Recv(); err != nil || p.Type != "process.crashed" || p.Summary != "signal 9" {
		t.Errorf("event = %+v, %v", p, err)
	}
	if p, err := ev.Recv(); err != io.EOF {
		t.Errorf("after the manager closed: %+v, %v; want io.EOF", p, err)
	}
	ev.Close()
	c.Close()
	m.stop()
	// First the client's hello (seq 0), which the manager answers as any
	// unknown request; after it, and on every later connection (the path
	// is remembered as legacy), exactly the base protocol's requests.
	if len(m.reqs) == 0 || m.reqs[0].h.MsgType != ipc.MsgHello || m.reqs[0].h.SeqNo != 0 || m.reqs[0].conn != 1 {
		t.Fatalf("first frame %+v, want the hello (0xf0, seq 0) on connection 1", m.reqs)
	}
	checkRequests(t, m.reqs[1:])
}

// checkRequests checks the frames the generated client sent, byte for byte
// where the reflection codec's output is canonical.
func checkRequests(t *testing.T, reqs []fakeReq) {
	t.Helper()
	enc := func(v any) []byte { b, _ := msgpack.Marshal(v); return b }
	want := []struct {
		mt   ipc.MsgType
		seq  uint64
		body []byte // nil: checked by decoding
	}{
		{mgmt.MsgListRequest, 1, []byte{}},
		{mgmt.MsgStatusRequest, 2, enc(wIDRequest{ID: "web"})},
		{mgmt.MsgStopRequest, 3, enc(wIDRequest{ID: "nope"})},
		{mgmt.MsgStartRequest, 4, enc(wIDRequest{ID: "web"})},
		{mgmt.MsgLogsRequest, 1, nil},
		{mgmt.MsgLogsRequest, 1, nil},
		{mgmt.MsgEventsSubscribe, 1, enc(wEventsSubscribe{})}, // pids: nil
	}
	if len(reqs) != len(want) {
		t.Fatalf("manager received %d requests, want %d: %+v", len(reqs), len(want), reqs)
	}
	for i, w := range want {
		r := reqs[i]
		if r.h.MsgType != w.mt || r.h.SeqNo != w.seq || r.h.Flags != 0 {
			t.Errorf("request %d: %s seq %d flags %#x, want %s seq %d flags 0", i, r.h.MsgType, r.h.SeqNo, r.h.Flags, w.mt, w.seq)
		}
		if w.body != nil && !bytes.Equal(r.body, w.body) {
			t.Errorf("request %d (%s): payload %x, want %x", i, w.mt, r.body, w.body)
		}
	}
	if reqs[0].conn == reqs[4].conn || reqs[4].conn == reqs[5].conn {
		t.Error("a stream shared a connection")
	}
	for i, want := range []wLogsRequestNew{{ID: "web", Stream: 1}, {ID: "web", Follow: true, Lines: 10}} {
		var keys map[string]any
		msgpack.Unmarshal(reqs[4+i].body, &keys)
		wantKeys := map[string]bool{"id": true, "s": true, "f": true, "ln": want.Lines != 0}
		for k, on := range wantKeys {
			if _, ok := keys[k]; ok != on {
				t.Errorf("Logs request %d: key %q present %v, want %v (%v)", i, k, ok, on, keys)
			}
		}
		var got wLogsRequestNew
		if err := msgpack.Unmarshal(reqs[4+i].body, &got); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Logs request %d decodes as %+v (%v), want %+v", i, got, err, want)
		}
	}
}
