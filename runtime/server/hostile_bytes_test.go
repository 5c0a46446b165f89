package server_test

// Hostile bytes on one connection, framing and payload: lengths that lie,
// frames cut short or sent a byte at a time, payloads that claim more than
// they hold, nest without end, or carry huge keys. Each costs the server a
// bounded amount and never the other connections; a bad payload is answered
// on its request and the connection kept.

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/internal/memtest"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

// list sends a List request on c and checks its answer.
func (r *rawConn) list(seq uint64) {
	r.t.Helper()
	r.send(servertest.MsgList, seq, nil)
	if got := r.echo(seq); got.N != servertest.ListN {
		r.t.Fatalf("List answered %+v", got)
	}
}

// A header declaring 16 MiB + 1 closes the connection, is logged as a
// framing error, allocates less than 1 MiB, and leaves others served.
func TestHostileOversizedLength(t *testing.T) {
	leakCheck(t)
	var logs logBuffer
	_, path := startServer(t, server.Options{Logger: logs.Logger()}, nil)
	c := dialRaw(t, path)
	c.list(1)
	hdr := ipc.AppendHeader(nil, ipc.Header{MsgType: servertest.MsgEcho, SeqNo: 2, Length: ipc.MaxPayloadSize + 1})
	got := memtest.Allocated(func() {
		c.write(hdr)
		c.expectClosed(5 * time.Second)
	})
	if got > 1<<20 {
		t.Errorf("oversized header: %d bytes allocated", got)
	}
	if !strings.Contains(logs.String(), "framing error") {
		t.Errorf("no framing error logged:\n%s", logs.String())
	}
	dialRaw(t, path).list(1)
}

// A header written a byte at a time is a header.
func TestHostileHeaderByteByByte(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{}, nil)
	c := dialRaw(t, path)
	frame := seedFrame(servertest.MsgEcho, 7, &servertest.EchoRequest{ID: "a"})
	for i := range ipc.HeaderSize {
		c.write(frame[i : i+1])
		time.Sleep(time.Millisecond)
	}
	c.write(frame[ipc.HeaderSize:])
	if got := c.echo(7); got.ID != "a" {
		t.Fatalf("got %+v", got)
	}
}

// A body cut short by the client's end of input closes the connection.
func TestHostileTruncatedBody(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{}, nil)
	c := dialRaw(t, path)
	frame := seedFrame(servertest.MsgEcho, 1, &servertest.EchoRequest{ID: "abcdefgh"})
	c.write(frame[:len(frame)-4])
	if err := c.nc.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	c.expectClosed(5 * time.Second)
	dialRaw(t, path).list(1)
}

// Payloads claiming 2^32-1 elements with none behind are malformed
// requests: answered, the connection kept, at most 256 KiB allocated.
// (gen/mgmt's TestDecodeHugeClaims checks each generated decoder alone.)
func TestHostileHugeClaims(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{}, nil)
	c := dialRaw(t, path)
	for i, hc := range []struct {
		name string
		body []byte
	}{
		{"string bytes", []byte{0x81, 0xa2, 'i', 'd', 0xdb, 0xff, 0xff, 0xff, 0xff}},
		{"map entries", []byte{0xdf, 0xff, 0xff, 0xff, 0xff}},
		{"unknown key map", []byte{0x81, 0xa1, 'z', 0xdf, 0xff, 0xff, 0xff, 0xff}},
		{"unknown key bin", []byte{0x81, 0xa1, 'z', 0xc6, 0xff, 0xff, 0xff, 0xff}},
		{"unknown key array", []byte{0x81, 0xa1, 'z', 0xdd, 0xff, 0xff, 0xff, 0xff}},
	} {
		seq := uint64(i + 1)
		var text string
		got := memtest.Allocated(func() {
			c.send(servertest.MsgEcho, seq, hc.body)
			text = c.status(seq)
		})
		if !strings.Contains(text, "malformed") {
			t.Errorf("%s: got %q, want a malformed-request error", hc.name, text)
		}
		t.Logf("%s: %q, %d bytes allocated", hc.name, text, got)
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

// Nesting within msgp's recursion limit (100,000) is skipped and served;
// past it, an error, no crash, and the connection kept.
func TestHostileDeepNesting(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{}, nil)
	c := dialRaw(t, path)
	c.send(servertest.MsgEcho, 1, nested(50000))
	if got := c.echo(1); got.ID != "a" {
		t.Fatalf("50000 levels: got %+v", got)
	}
	for i, depth := range []int{100001, 1 << 20, 8 << 20} {
		seq := uint64(i + 2)
		c.send(servertest.MsgEcho, seq, nested(depth))
		if text := c.status(seq); !strings.Contains(text, "recursion") {
			t.Fatalf("%d levels: got %q, want a recursion error", depth, text)
		}
	}
	c.list(99)
}

// 10,000 unknown keys before the known one are skipped within 2 s.
func TestHostileUnknownKeysInBulk(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{}, nil)
	c := dialRaw(t, path)
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
	c.send(servertest.MsgEcho, 1, b)
	if got := c.echo(1); got.ID != "a" {
		t.Fatalf("got %+v", got)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("10000 unknown keys took %v", d)
	}
}

// TestHostileDeclaredLengthNotSent measures what a header declaring a full
// 16 MiB payload costs the server when the body never comes: within the
// declared length plus 1 MiB (the body grows as its bytes arrive). The
// figure is logged for the report.
func TestHostileDeclaredLengthNotSent(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{}, nil)
	c := dialRaw(t, path)
	hdr := ipc.AppendHeader(nil, ipc.Header{MsgType: servertest.MsgEcho, SeqNo: 1, Length: ipc.MaxPayloadSize})
	got := memtest.Allocated(func() {
		c.write(append(hdr, 0x81, 0xa2, 'i', 'd'))
		time.Sleep(100 * time.Millisecond)
	})
	t.Logf("header declaring %d bytes, 4 sent: %d bytes allocated", ipc.MaxPayloadSize, got)
	if got > uint64(ipc.MaxPayloadSize)+1<<20 {
		t.Errorf("%d bytes allocated, more than the declared length plus 1 MiB", got)
	}
}

// Error answers never carry more than a bounded prefix (256 bytes) of
// untrusted input, whatever the request holds. (gen/mgmt's
// TestBoundedErrorEcho adds the schema's max_len cases.)
func TestHostileBoundedErrorEcho(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{}, nil)
	c := dialRaw(t, path)
	huge := strings.Repeat("A", 1<<20)
	mapOf := func(key string, value []byte) []byte {
		b := msgp.AppendMapHeader(nil, 1)
		b = msgp.AppendString(b, key)
		return append(b, value...)
	}
	for i, cs := range []struct {
		name string
		t    ipc.MsgType
		body []byte
	}{
		{"huge unknown key, bad value", servertest.MsgEcho, mapOf(huge, []byte{0xc1})},
		{"huge bin as id", servertest.MsgEcho, mapOf("id", msgp.AppendBytes(nil, []byte(huge)))},
		{"huge string as an int", servertest.MsgEcho, mapOf("n", msgp.AppendString(nil, huge))},
		{"huge trailing bytes", servertest.MsgEcho, append(mapOf("id", msgp.AppendString(nil, "a")), huge...)},
		{"huge payload, unknown type", 0xB7, []byte(huge)},
		{"huge key as map key type", servertest.MsgEcho, append(msgp.AppendMapHeader(nil, 1), msgp.AppendBytes(nil, []byte(huge))...)},
	} {
		seq := uint64(i + 1)
		c.send(cs.t, seq, cs.body)
		text := c.status(seq)
		if text == "" {
			t.Errorf("%s: no error", cs.name)
		}
		if len(text) > 256 || strings.Contains(text, "AAAAAAAA") {
			t.Errorf("%s: error echoes input (%d bytes): %.100q", cs.name, len(text), text)
		}
		t.Logf("%s: %q", cs.name, text)
	}
}
