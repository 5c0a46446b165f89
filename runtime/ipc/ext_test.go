package ipc_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server"
)

// extBlock is a fenced block of docs/wire.md's Extensions section: "```ext
// NAME", hex bytes, "```".
var extBlock = regexp.MustCompile("(?m)^```ext ([a-z ]+)\n((?:[0-9a-f]{2}(?: +|\n))+)```")

// TestWireDocExtensions: every frame docs/wire.md's Extensions section shows
// byte by byte is what the runtime writes.
func TestWireDocExtensions(t *testing.T) {
	doc, err := os.ReadFile("../../docs/wire.md")
	if err != nil {
		t.Fatal(err)
	}
	frame := func(h ipc.Header, m msgp.Marshaler) []byte {
		b, err := ipc.AppendMsgFrame(nil, h, m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// The hello our client sends, and what our server answers to it: the
	// features both speak, in the server's order.
	var both []string
	for _, f := range server.Features {
		if slices.Contains(client.Features, f) {
			both = append(both, f)
		}
	}
	want := map[string][]byte{
		"hello":      frame(ipc.Header{MsgType: ipc.MsgHello}, &ipc.Hello{Version: ipc.ExtVersion, Features: client.Features}),
		"hello ack":  frame(ipc.Header{MsgType: ipc.MsgHelloAck}, &ipc.HelloAck{Version: ipc.ExtVersion, Features: both, Runtime: ipc.RuntimeVersion}),
		"error":      frame(ipc.Header{MsgType: ipc.MsgError, SeqNo: 2}, &ipc.Status{Code: 5, Message: "no process web"}),
		"ping":       frame(ipc.Header{MsgType: ipc.MsgPing, SeqNo: 3}, nil),
		"pong":       frame(ipc.Header{MsgType: ipc.MsgPong, SeqNo: 3}, nil),
		"stream end": frame(ipc.Header{MsgType: ipc.MsgStreamEnd, SeqNo: 5}, &ipc.Status{}),
		"ready":      frame(ipc.Header{MsgType: ipc.MsgReady, SeqNo: 5}, nil),
		"call header": frame(ipc.Header{MsgType: ipc.MsgCallHeader, SeqNo: 4},
			&ipc.CallHeader{Timeout: 1500 * 1000 * 1000, Metadata: map[string]string{"rid": "42"}}),
		"cancel":             frame(ipc.Header{MsgType: ipc.MsgCancel, SeqNo: 4}, nil),
		"mux cancelled":      frame(ipc.Header{MsgType: ipc.MsgStreamEnd, SeqNo: 6}, &ipc.Status{Code: 1, Message: "context canceled"}),
		"stream credit":      ipc.AppendStreamCredit(nil, 6, 256, 1<<20),
		"stream credit back": ipc.AppendStreamCredit(nil, 6, 128, 11520),
		"mux refused": frame(ipc.Header{MsgType: ipc.MsgError, SeqNo: 9},
			&ipc.Status{Code: 8, Message: "server: too many streams on this connection (limit 16); close one or try again later"}),
	}
	for _, b := range extBlock.FindAllSubmatch(doc, -1) {
		name := string(b[1])
		got, err := hex.DecodeString(strings.Join(strings.Fields(string(b[2])), ""))
		if err != nil {
			t.Fatal(err)
		}
		w, ok := want[name]
		switch {
		case !ok:
			t.Errorf("docs/wire.md shows an example %q this test does not know", name)
		case !bytes.Equal(got, w):
			t.Errorf("docs/wire.md's %s:\n% x\nthe runtime writes\n% x", name, got, w)
		}
		delete(want, name)
	}
	for name, w := range want {
		t.Errorf("docs/wire.md does not show the %s: % x", name, w)
	}
}

// Every control payload decodes what it encodes.
func TestControlRoundTrip(t *testing.T) {
	for _, tc := range []struct{ in, out msgp.Unmarshaler }{
		{&ipc.Hello{Version: 1, Features: []string{"errors", "ping"}}, new(ipc.Hello)},
		{&ipc.HelloAck{Version: 1, Features: []string{"errors"}, Runtime: "rt"}, new(ipc.HelloAck)},
		{&ipc.CallHeader{Timeout: 1500, Metadata: map[string]string{"a": "1", "b": ""}}, new(ipc.CallHeader)},
		{&ipc.CallHeader{}, new(ipc.CallHeader)},
		{&ipc.Status{Code: 5, Message: "gone", Details: []byte{0x90}}, new(ipc.Status)},
		{&ipc.Status{}, new(ipc.Status)},
		{&ipc.StreamCredit{Frames: 256, Bytes: 1 << 20}, new(ipc.StreamCredit)},
	} {
		b, err := tc.in.(msgp.Marshaler).MarshalMsg(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := ipc.DecodePayload(b, tc.out); err != nil || !reflect.DeepEqual(tc.in, tc.out) {
			t.Errorf("%T: % x decodes as %+v, %v; want %+v", tc.in, b, tc.out, err, tc.in)
		}
	}
}

// checkAppendFrame: CallHeader.AppendFrame writes what AppendMsgFrame
// writes, after whatever dst holds.
func checkAppendFrame(t *testing.T, h *ipc.CallHeader) {
	t.Helper()
	want, err := ipc.AppendMsgFrame([]byte("x"), ipc.Header{MsgType: ipc.MsgCallHeader, SeqNo: 7}, h)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.AppendFrame([]byte("x"), 7); !bytes.Equal(got, want) {
		t.Fatalf("AppendFrame of %+v:\n% x\nAppendMsgFrame:\n% x", h, got, want)
	}
}

func TestCallHeaderAppendFrame(t *testing.T) {
	md := map[string]string{}
	for i := range 20 { // more pairs than the encoder keeps on its stack
		md[string(rune('a'+i))] = strings.Repeat("v", i)
	}
	for _, h := range []*ipc.CallHeader{{}, {Timeout: 1}, {Timeout: 1500 * 1000 * 1000, Metadata: map[string]string{"rid": "42"}}, {Metadata: md}} {
		checkAppendFrame(t, h)
	}
	h := &ipc.CallHeader{Timeout: int64(time.Second)}
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { h.AppendFrame(buf[:0], 1) }); n != 0 {
		t.Errorf("AppendFrame without metadata allocates %v times", n)
	}
}

// Decoders refuse what breaks their bounds and skip what they do not know.
func TestControlBounds(t *testing.T) {
	big := map[string]string{}
	for i := range ipc.MaxMetadataPairs + 1 {
		big[string(rune('a'+i%26))+strings.Repeat("x", i)] = ""
	}
	b, _ := (&ipc.CallHeader{Metadata: big}).MarshalMsg(nil)
	if err := ipc.DecodePayload(b, new(ipc.CallHeader)); !errors.Is(err, ipc.ErrControl) {
		t.Errorf("65 pairs of metadata: %v, want ErrControl", err)
	}
	b, _ = (&ipc.CallHeader{Metadata: map[string]string{"k": strings.Repeat("v", ipc.MaxMetadataBytes)}}).MarshalMsg(nil)
	if err := ipc.DecodePayload(b, new(ipc.CallHeader)); !errors.Is(err, ipc.ErrControl) {
		t.Errorf("4 KiB + 1 of metadata: %v, want ErrControl", err)
	}
	if err := ipc.CheckMetadata(map[string]string{"k": strings.Repeat("v", ipc.MaxMetadataBytes-1)}); err != nil {
		t.Errorf("metadata at the limit: %v", err)
	}
	b = msgp.AppendMapHeader(nil, 1)
	b = msgp.AppendString(b, "t")
	b = msgp.AppendInt64(b, -1)
	if err := ipc.DecodePayload(b, new(ipc.CallHeader)); !errors.Is(err, ipc.ErrControl) {
		t.Errorf("negative timeout: %v, want ErrControl", err)
	}
	b = msgp.AppendMapHeader(nil, 2)
	b = msgp.AppendString(b, "zz")
	b = msgp.AppendArrayHeader(b, 0)
	b = msgp.AppendString(b, "v")
	b = msgp.AppendUint8(b, 1)
	var h ipc.Hello
	if err := ipc.DecodePayload(b, &h); err != nil || h.Version != 1 {
		t.Errorf("unknown key: %+v, %v", h, err)
	}
	if err := ipc.DecodePayload([]byte{0xc0}, &h); err != nil {
		t.Errorf("nil hello: %v", err)
	}
}

// FuzzControlFrames feeds every control payload decoder hostile bytes:
// errors, never a panic, and what decodes re-encodes to something that
// decodes to the same value.
func FuzzControlFrames(f *testing.F) {
	for _, m := range []msgp.Marshaler{
		&ipc.Hello{Version: 1, Features: []string{"errors", "ping"}},
		&ipc.HelloAck{Version: 1, Features: []string{"errors"}, Runtime: "rt"},
		&ipc.CallHeader{Timeout: 1500, Metadata: map[string]string{"rid": "42"}},
		&ipc.Status{Code: 5, Message: "gone", Details: []byte{0x90}},
		&ipc.Description{Schema: "version: 1\n", SHA256: [32]byte{1, 2}, Runtime: "rt", Features: []string{"describe"}},
		&ipc.StreamCredit{Frames: 64, Bytes: 1 << 18},
	} {
		b, _ := m.MarshalMsg(nil)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, mk := range []func() msgp.Unmarshaler{
			func() msgp.Unmarshaler { return new(ipc.Hello) },
			func() msgp.Unmarshaler { return new(ipc.HelloAck) },
			func() msgp.Unmarshaler { return new(ipc.CallHeader) },
			func() msgp.Unmarshaler { return new(ipc.Status) },
			func() msgp.Unmarshaler { return new(ipc.Description) },
			func() msgp.Unmarshaler { return new(ipc.StreamCredit) },
		} {
			v := mk()
			if ipc.DecodePayload(b, v) != nil {
				continue
			}
			enc, err := v.(msgp.Marshaler).MarshalMsg(nil)
			if err != nil {
				t.Fatalf("%T %+v does not encode: %v", v, v, err)
			}
			w := mk()
			if err := ipc.DecodePayload(enc, w); err != nil {
				t.Fatalf("%T: % x re-encoded as % x does not decode: %v", v, b, enc, err)
			}
			if ch, ok := w.(*ipc.CallHeader); ok && ch.Metadata != nil && len(ch.Metadata) == 0 {
				ch.Metadata = nil
			}
			if ch, ok := v.(*ipc.CallHeader); ok && len(ch.Metadata) == 0 {
				ch.Metadata = nil
			}
			if !reflect.DeepEqual(v, w) {
				t.Fatalf("%T: %+v re-decodes as %+v", v, v, w)
			}
			if ch, ok := v.(*ipc.CallHeader); ok {
				checkAppendFrame(t, ch)
			}
		}
	})
}
