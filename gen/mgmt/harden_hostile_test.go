package mgmt_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

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
