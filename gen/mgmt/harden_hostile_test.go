package mgmt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// allocDuring returns the bytes the whole process allocated while fn ran.
func allocDuring(fn func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	fn()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

func TestHostileOversizedLength(t *testing.T) {
	noLeaks(t)
	_, path, logs := hStart(t, mgmt.ServerOptions{})
	c := hDial(t, path)
	c.list(1)
	hdr := ipc.AppendHeader(nil, ipc.Header{MsgType: mgmt.MsgStatusRequest, SeqNo: 2, Length: ipc.MaxPayloadSize + 1})
	got := allocDuring(func() {
		c.write(hdr)
		if !c.closed(5 * time.Second) {
			t.Fatal("connection still open after a 16 MiB + 1 length")
		}
	})
	if got > 1<<20 {
		t.Errorf("oversized header: %d bytes allocated", got)
	}
	if !strings.Contains(logs.String(), "framing error") {
		t.Errorf("no framing error logged:\n%s", logs)
	}
	hDial(t, path).list(1) // the server still serves others
}

func TestHostileHeaderByteByByte(t *testing.T) {
	noLeaks(t)
	_, path, _ := hStart(t, mgmt.ServerOptions{})
	c := hDial(t, path)
	frame := hMsgFrame(mgmt.MsgStatusRequest, 7, &mgmt.StatusRequestPayload{ID: "a"})
	for i := range ipc.HeaderSize {
		c.write(frame[i : i+1])
		time.Sleep(time.Millisecond)
	}
	c.write(frame[ipc.HeaderSize:])
	if p := c.status(7); p.Err != "" || p.Entry.ID != "a" {
		t.Fatalf("got %+v", p)
	}
}

func TestHostileTruncatedBody(t *testing.T) {
	noLeaks(t)
	_, path, _ := hStart(t, mgmt.ServerOptions{})
	c := hDial(t, path)
	frame := hMsgFrame(mgmt.MsgStatusRequest, 1, &mgmt.StatusRequestPayload{ID: "abcdefgh"})
	c.write(frame[:len(frame)-4])
	if err := c.nc.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if !c.closed(5 * time.Second) {
		t.Fatal("connection still open after a truncated body")
	}
	hDial(t, path).list(1)
}

// hugeClaims are request payloads claiming 2^32-1 elements with none behind.
var hugeClaims = []struct {
	name string
	t    ipc.MsgType
	body []byte
}{
	{"string bytes", mgmt.MsgStatusRequest, []byte{0x81, 0xa2, 'i', 'd', 0xdb, 0xff, 0xff, 0xff, 0xff}},
	{"map entries", mgmt.MsgStopRequest, []byte{0xdf, 0xff, 0xff, 0xff, 0xff}},
	{"list items", mgmt.MsgEventsSubscribe, []byte{0x81, 0xa4, 'p', 'i', 'd', 's', 0xdd, 0xff, 0xff, 0xff, 0xff}},
	{"unknown key map", mgmt.MsgStatusRequest, []byte{0x81, 0xa1, 'z', 0xdf, 0xff, 0xff, 0xff, 0xff}},
	{"unknown key bin", mgmt.MsgStartRequest, []byte{0x81, 0xa1, 'z', 0xc6, 0xff, 0xff, 0xff, 0xff}},
	{"list items in range", mgmt.MsgEventsSubscribe, []byte{0x81, 0xa5, 't', 'y', 'p', 'e', 's', 0xdc, 0xff, 0xff}},
}

func TestHostileHugeClaims(t *testing.T) {
	noLeaks(t)
	_, path, _ := hStart(t, mgmt.ServerOptions{})
	c := hDial(t, path)
	for i, hc := range hugeClaims {
		seq := uint64(i + 1)
		var p *mgmt.StatusResponsePayload
		got := allocDuring(func() {
			c.write(hFrame(hc.t, seq, hc.body))
			p = c.status(seq)
		})
		if p.Err == "" || !strings.Contains(p.Err, "malformed") {
			t.Errorf("%s: got Err %q, want a malformed-request error", hc.name, p.Err)
		}
		t.Logf("%s: Err %q, %d bytes allocated", hc.name, p.Err, got)
		if got > 256<<10 {
			t.Errorf("%s: %d bytes allocated", hc.name, got)
		}
	}
	c.list(100)
}

// nested returns an unknown key holding depth nested one-element arrays
// around nil, then id "a".
func nested(depth int) []byte {
	b := msgp.AppendMapHeader(nil, 2)
	b = msgp.AppendString(b, "zz")
	b = append(b, bytes.Repeat([]byte{0x91}, depth)...)
	b = msgp.AppendNil(b)
	b = msgp.AppendString(b, "id")
	return msgp.AppendString(b, "a")
}

func TestHostileDeepNesting(t *testing.T) {
	noLeaks(t)
	_, path, _ := hStart(t, mgmt.ServerOptions{})
	c := hDial(t, path)
	// Within msgp's recursion limit (100000): skipped, served.
	c.write(hFrame(mgmt.MsgStatusRequest, 1, nested(50000)))
	if p := c.status(1); p.Err != "" || p.Entry.ID != "a" {
		t.Fatalf("50000 levels: got %+v", p)
	}
	// Past any limit: an error, no crash, the connection kept.
	for i, depth := range []int{100001, 1 << 20, 8 << 20} {
		seq := uint64(i + 2)
		c.write(hFrame(mgmt.MsgStatusRequest, seq, nested(depth)))
		p := c.status(seq)
		if !strings.Contains(p.Err, "recursion") {
			t.Fatalf("%d levels: got Err %q, want a recursion error", depth, p.Err)
		}
	}
	c.list(99)
}

func TestHostileUnknownKeysInBulk(t *testing.T) {
	noLeaks(t)
	_, path, _ := hStart(t, mgmt.ServerOptions{})
	c := hDial(t, path)
	const n = 10000
	b := msgp.AppendMapHeader(nil, n+1)
	for i := range n {
		b = msgp.AppendString(b, fmt.Sprintf("unknown-key-%05d", i))
		b = msgp.AppendArrayHeader(b, 1)
		b = msgp.AppendInt(b, i)
	}
	b = msgp.AppendString(b, "id")
	b = msgp.AppendString(b, "a")
	start := time.Now()
	c.write(hFrame(mgmt.MsgStatusRequest, 1, b))
	p := c.status(1)
	if p.Err != "" || p.Entry.ID != "a" {
		t.Fatalf("got %+v", p)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("10000 unknown keys took %v", d)
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

func TestHostileWrongTypes(t *testing.T) {
	noLeaks(t)
	_, path, _ := hStart(t, mgmt.ServerOptions{})
	c := hDial(t, path)
	for i, w := range wrongTypes {
		seq := uint64(i + 1)
		b := msgp.AppendMapHeader(nil, 1)
		b = msgp.AppendString(b, w.key)
		b = append(b, w.value...)
		c.write(hFrame(w.t, seq, b))
		p := c.status(seq)
		if !strings.Contains(p.Err, "malformed") || !strings.Contains(p.Err, w.field) {
			t.Errorf("%s %s=%x: Err %q, want a malformed-request error naming %s", w.t, w.key, w.value, p.Err, w.field)
		}
		if p.Entry != (mgmt.ListEntry{}) {
			t.Errorf("%s %s: served as %+v", w.t, w.key, p.Entry)
		}
	}
	c.list(999)
}

func TestHostileRequestIDOutOfRange(t *testing.T) {
	noLeaks(t)
	_, path, _ := hStart(t, mgmt.ServerOptions{})
	c := hDial(t, path)
	for i, id := range []ipc.MsgType{0x00, 0xFF, 0x9F, 0xB0, mgmt.MsgListResponse, mgmt.MsgLogsStream} {
		seq := uint64(i + 1)
		c.write(hFrame(id, seq, []byte{0x80}))
		want := fmt.Sprintf("unknown request type 0x%02x", uint8(id))
		if p := c.status(seq); p.Err != want {
			t.Errorf("id %#x: Err %q, want %q", uint8(id), p.Err, want)
		}
	}
	c.list(50)
}

// TestHostileStreamLastFrameNeverComes: a followed Logs stream never sends
// its EOF frame. The client's Recv blocks until its context ends or Close;
// the server's handler context ends when the client leaves.
func TestHostileStreamLastFrameNeverComes(t *testing.T) {
	noLeaks(t)
	h := newHHandler()
	h.ended = make(chan error, 4)
	_, path, _ := hStart(t, mgmt.ServerOptions{Handler: h})
	cl, err := mgmt.Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	ctx, cancel := context.WithCancel(context.Background())
	st, err := cl.Logs(ctx, &mgmt.LogsRequestPayload{ID: "a", Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := st.Recv(); err != nil || p.EOF {
		t.Fatalf("snapshot: %+v %v", p, err)
	}
	errc := make(chan error, 1)
	go func() { _, err := st.Recv(); errc <- err }()
	select {
	case err := <-errc:
		t.Fatalf("Recv returned %v with no frame sent", err)
	case <-time.After(200 * time.Millisecond):
	}
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Recv after cancel: %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Recv still blocked after its context ended")
	}
	st.Close()
	hWaitEnded(t, h, "cancelled client")
}

// TestHostileStreamCloseUnblocksRecv: Close from another goroutine ends a
// Recv blocked on a stream whose next frame never comes.
func TestHostileStreamCloseUnblocksRecv(t *testing.T) {
	noLeaks(t)
	h := newHHandler()
	h.ended = make(chan error, 4)
	_, path, _ := hStart(t, mgmt.ServerOptions{Handler: h})
	cl, err := mgmt.Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	st, err := cl.Logs(context.Background(), &mgmt.LogsRequestPayload{ID: "a", Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { _, err := st.Recv(); errc <- err }()
	time.Sleep(50 * time.Millisecond)
	st.Close()
	select {
	case err := <-errc:
		if err == nil {
			t.Errorf("Recv after Close: %v, want an error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Recv still blocked after Close")
	}
	hWaitEnded(t, h, "closed client")
}

func hWaitEnded(t *testing.T, h *hHandler, what string) {
	t.Helper()
	select {
	case err := <-h.ended:
		if err == nil {
			t.Errorf("%s: handler context ended without error", what)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: server handler context still live", what)
	}
}

// TestHostileDeclaredLengthNotSent measures what a header declaring a full
// 16 MiB payload costs the server when the body never comes: the runtime
// allocates the declared length up front (within the bound,
// "declared length plus a constant", but MaxConns such peers pin
// MaxConns x MaxPayload bytes). The figure is logged for the report.
func TestHostileDeclaredLengthNotSent(t *testing.T) {
	noLeaks(t)
	_, path, _ := hStart(t, mgmt.ServerOptions{})
	c := hDial(t, path)
	hdr := ipc.AppendHeader(nil, ipc.Header{MsgType: mgmt.MsgStatusRequest, SeqNo: 1, Length: ipc.MaxPayloadSize})
	got := allocDuring(func() {
		c.write(append(hdr, 0x81, 0xa2, 'i', 'd'))
		time.Sleep(100 * time.Millisecond)
	})
	t.Logf("header declaring %d bytes, 4 sent: %d bytes allocated", ipc.MaxPayloadSize, got)
	if got > uint64(ipc.MaxPayloadSize)+1<<20 {
		t.Errorf("%d bytes allocated, more than the declared length plus 1 MiB", got)
	}
}

// TestHostileRequestsOnStreamConn: requests piled onto a connection that a
// followed stream occupies are not read, let alone served or queued, while
// the stream runs (cliwrap: the stream is the rest of the connection): no
// answer comes, the stream stays up, and the client leaving still ends the
// handler. (runtime/server's TestHostileLargeRequestsOnStream measures the
// memory.)
func TestHostileRequestsOnStreamConn(t *testing.T) {
	noLeaks(t)
	h := newHHandler()
	h.ended = make(chan error, 1)
	_, path, _ := hStart(t, mgmt.ServerOptions{Handler: h})
	c := hDial(t, path)
	c.write(hMsgFrame(mgmt.MsgLogsRequest, 1, &mgmt.LogsRequestPayload{ID: "a", Follow: true}))
	if hd, _, err := c.next(5 * time.Second); err != nil || hd.MsgType != mgmt.MsgLogsStream {
		t.Fatalf("snapshot: %v %v", hd, err)
	}
	var pile []byte
	for i := range 200 {
		pile = append(pile, hFrame(mgmt.MsgListRequest, uint64(i+2), nil)...)
	}
	c.nc.Write(pile)
	if hd, body, err := c.next(300 * time.Millisecond); err == nil {
		t.Fatalf("got frame %s seq %d (%q) while the stream occupies the connection", hd.MsgType, hd.SeqNo, body)
	} else if !isTimeout(err) {
		t.Fatalf("connection dropped with requests piled on a stream: %v", err)
	}
	select {
	case err := <-h.ended:
		t.Fatalf("stream handler ended (%v) while its client is still there", err)
	default:
	}
	c.nc.Close()
	hWaitEnded(t, h, "client gone")
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
