package mgmt_test

// The generated decoders against an independent codec: FuzzDecode, round trips, and the
// allocation bounds of hostile claims.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/tinylib/msgp/msgp"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
)

// payload is what every generated payload type implements.
type payload interface {
	msgp.Marshaler
	msgp.Unmarshaler
	msgp.Encodable
	msgp.Decodable
}

// decoders lists every generated payload type; the fuzz input's first byte
// picks one (modulo the length).
var decoders = []struct {
	name string
	new  func() payload
}{
	{"ListEntry", func() payload { return new(mgmt.ListEntry) }},
	{"ListResponsePayload", func() payload { return new(mgmt.ListResponsePayload) }},
	{"StatusRequestPayload", func() payload { return new(mgmt.StatusRequestPayload) }},
	{"StatusResponsePayload", func() payload { return new(mgmt.StatusResponsePayload) }},
	{"StartRequestPayload", func() payload { return new(mgmt.StartRequestPayload) }},
	{"StopRequestPayload", func() payload { return new(mgmt.StopRequestPayload) }},
	{"LogsRequestPayload", func() payload { return new(mgmt.LogsRequestPayload) }},
	{"LogsStreamPayload", func() payload { return new(mgmt.LogsStreamPayload) }},
	{"EventsSubscribePayload", func() payload { return new(mgmt.EventsSubscribePayload) }},
	{"EventsStreamPayload", func() payload { return new(mgmt.EventsStreamPayload) }},
}

// decodeSeeds are realistic payloads, as a vmihailenco/msgpack (cliwrap)
// peer encodes them, one per type (index = decoders index), plus edge cases.
func decodeSeeds() [][]byte {
	enc := func(i int, v any) []byte {
		b, err := msgpack.Marshal(v)
		if err != nil {
			panic(err)
		}
		return append([]byte{byte(i)}, b...)
	}
	e := mgmt.ListEntry{ID: "web", Name: "Web server", State: "running", ChildPID: 4242, RSS: 12 << 20}
	seeds := [][]byte{
		enc(0, e),
		enc(1, mgmt.ListResponsePayload{Entries: []mgmt.ListEntry{e, {ID: "db", State: "stopped"}}}),
		enc(1, mgmt.ListResponsePayload{}), // entries: nil
		enc(2, mgmt.StatusRequestPayload{ID: "web"}),
		enc(3, mgmt.StatusResponsePayload{Entry: e}),
		enc(3, mgmt.StatusResponsePayload{Err: `unknown process "x"`}),
		enc(4, mgmt.StartRequestPayload{ID: "web"}),
		enc(5, mgmt.StopRequestPayload{ID: "web"}),
		enc(6, mgmt.LogsRequestPayload{ID: "web", Stream: 1, Follow: true, SinceUnixNano: 1700000000000000000, Lines: 10}),
		enc(7, mgmt.LogsStreamPayload{ID: "web", Data: []byte("hello\nworld\n"), EOF: true}),
		enc(8, mgmt.EventsSubscribePayload{ProcessIDs: []string{"web", "db"}, Types: []string{"process.crashed"}}),
		enc(8, mgmt.EventsSubscribePayload{}),
		enc(9, mgmt.EventsStreamPayload{ProcessID: "web", Type: "process.started", Timestamp: 1700000000000000000, Summary: "pid 4242"}),
		{2, 0x81, 0xa2, 'i', 'd', 0x01},                                                  // wrong type
		{2, 0x81, 0xa1, 'z', 0x91, 0x91, 0x91, 0x80},                                     // unknown nested key
		{1, 0x81, 0xa7, 'e', 'n', 't', 'r', 'i', 'e', 's', 0xdd, 0xff, 0xff, 0xff, 0xff}, // 2^32-1 items
		{7, 0x81, 0xa1, 'd', 0xc6, 0xff, 0xff, 0xff, 0xff},                               // 2^32-1 bin bytes
		{2, 0x81, 0xa2, 'i', 'd', 0xdb, 0xff, 0xff, 0xff, 0xff},                          // 2^32-1 str bytes
		{9, 0xdf, 0xff, 0xff, 0xff, 0xff},                                                // 2^32-1 map entries
		{0},
	}
	return seeds
}

// checkDecode is the fuzz body: decode data[1:] as the type data[0] picks,
// both from bytes and through a msgp.Reader; whatever decodes must re-encode
// to bytes that decode to an equal encoding.
func checkDecode(t *testing.T, data []byte) {
	if len(data) == 0 {
		return
	}
	d := decoders[int(data[0])%len(decoders)]
	body := data[1:]
	v := d.new()
	if _, err := v.UnmarshalMsg(body); err == nil {
		roundTrip(t, d.name, d.new, v)
	}
	w := d.new()
	r := msgp.NewReader(bytes.NewReader(body))
	// DecodeMsg allocates a declared string or bin length before reading it
	// (msgp's Reader design); fields with max_len are bounded by the schema,
	// and the server never uses this path. Bound it here as a caller must.
	r.SetMaxStringLength(uint64(len(body)))
	if err := w.DecodeMsg(r); err == nil {
		roundTrip(t, d.name, d.new, w)
	}
}

func roundTrip(t *testing.T, name string, fresh func() payload, v payload) {
	enc, err := v.MarshalMsg(nil)
	if err != nil {
		t.Fatalf("%s: re-encode: %v", name, err)
	}
	u := fresh()
	if rest, err := u.UnmarshalMsg(enc); err != nil || len(rest) != 0 {
		t.Fatalf("%s: decode of re-encoding %x: %v (%d bytes left)", name, enc, err, len(rest))
	}
	enc2, err := u.MarshalMsg(nil)
	if err != nil || !bytes.Equal(enc, enc2) {
		t.Fatalf("%s: unstable round trip:\n%x\n%x (%v)", name, enc, enc2, err)
	}
	var buf bytes.Buffer
	wr := msgp.NewWriter(&buf)
	if err := v.EncodeMsg(wr); err != nil || wr.Flush() != nil {
		t.Fatalf("%s: EncodeMsg: %v", name, err)
	}
	if !bytes.Equal(buf.Bytes(), enc) {
		t.Fatalf("%s: EncodeMsg and MarshalMsg differ:\n%x\n%x", name, buf.Bytes(), enc)
	}
}

// FuzzDecode runs every generated decoder on arbitrary bytes: no panic, and
// a decoded value survives re-encoding.
func FuzzDecode(f *testing.F) {
	for _, s := range decodeSeeds() {
		f.Add(s)
	}
	f.Fuzz(checkDecode)
}

// allocSlack is the allocation a decode may make beyond the input's length:
// the value itself and msgp's reader buffers.
const allocSlack = 64 << 10

// allocOf returns the bytes allocated by fn (averaged over a few runs).
func allocOf(fn func()) uint64 {
	const runs = 4
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	for range runs {
		fn()
	}
	runtime.ReadMemStats(&b)
	return (b.TotalAlloc - a.TotalAlloc) / runs
}

// TestDecodeSeedsAllocBounded checks the fuzz seeds and the checked-in
// corpus against the allocation invariant: UnmarshalMsg of n bytes
// allocates at most n + allocSlack.
func TestDecodeSeedsAllocBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation accounting is slow under -short")
	}
	for i, s := range decodeSeeds() {
		d := decoders[int(s[0])%len(decoders)]
		body := s[1:]
		got := allocOf(func() { v := d.new(); v.UnmarshalMsg(body) })
		if got > uint64(len(body))+allocSlack {
			t.Errorf("seed %d (%s, %d bytes): UnmarshalMsg allocated %d bytes", i, d.name, len(body), got)
		}
		checkDecode(t, s)
	}
}

// TestDecodeHugeClaims: a payload claiming 2^32-1 items, entries or bytes is
// refused before allocating, for every field that can hold them.
func TestDecodeHugeClaims(t *testing.T) {
	cases := []struct {
		name string
		new  func() payload
		body []byte
		// readerOK: msgp's streaming Reader skips an unknown bin32 whose
		// claimed length runs past the end of its input without an error
		// (msgp v1.6.5), so only UnmarshalMsg, which the runtime uses, is held
		// to refusing it.
		readerOK bool
	}{
		{"Status id str32", func() payload { return new(mgmt.StatusRequestPayload) }, []byte{0x81, 0xa2, 'i', 'd', 0xdb, 0xff, 0xff, 0xff, 0xff}, false},
		{"Logs d bin32", func() payload { return new(mgmt.LogsStreamPayload) }, []byte{0x81, 0xa1, 'd', 0xc6, 0xff, 0xff, 0xff, 0xff}, false},
		{"Status map32", func() payload { return new(mgmt.StatusRequestPayload) }, []byte{0xdf, 0xff, 0xff, 0xff, 0xff}, false},
		{"Events pids array32", func() payload { return new(mgmt.EventsSubscribePayload) }, []byte{0x81, 0xa4, 'p', 'i', 'd', 's', 0xdd, 0xff, 0xff, 0xff, 0xff}, false},
		{"List entries array32", func() payload { return new(mgmt.ListResponsePayload) }, []byte{0x81, 0xa7, 'e', 'n', 't', 'r', 'i', 'e', 's', 0xdd, 0xff, 0xff, 0xff, 0xff}, false},
		{"unknown key map32", func() payload { return new(mgmt.StatusRequestPayload) }, []byte{0x81, 0xa1, 'z', 0xdf, 0xff, 0xff, 0xff, 0xff}, false},
		{"unknown key bin32", func() payload { return new(mgmt.StartRequestPayload) }, []byte{0x81, 0xa1, 'z', 0xc6, 0xff, 0xff, 0xff, 0xff}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			got := allocOf(func() { _, err = c.new().UnmarshalMsg(c.body) })
			if err == nil {
				t.Fatal("decoded a truncated payload claiming 2^32-1 elements")
			}
			if got > allocSlack {
				t.Errorf("allocated %d bytes before failing (%v)", got, err)
			}
			r := msgp.NewReader(bytes.NewReader(c.body))
			if err := c.new().DecodeMsg(r); err == nil && !c.readerOK {
				t.Fatal("DecodeMsg decoded a truncated payload")
			}
		})
	}
}

// TestDecodeBoundedListClaims: a claim within max_items (65536) but with no
// elements behind it must not allocate 65536 elements. Each element takes
// at least one byte, so the claim can be checked against the input left.
func TestDecodeBoundedListClaims(t *testing.T) {
	cases := []struct {
		name string
		new  func() payload
		body []byte
	}{
		{"Events pids 65536", func() payload { return new(mgmt.EventsSubscribePayload) }, []byte{0x81, 0xa4, 'p', 'i', 'd', 's', 0xdc, 0xff, 0xff}},
		{"List entries 65536", func() payload { return new(mgmt.ListResponsePayload) }, []byte{0x81, 0xa7, 'e', 'n', 't', 'r', 'i', 'e', 's', 0xdc, 0xff, 0xff}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			got := allocOf(func() { _, err = c.new().UnmarshalMsg(c.body) })
			if err == nil {
				t.Fatal("decoded a truncated list")
			}
			if got > allocSlack {
				t.Fatalf("%d-byte payload claiming 65535 items allocated %d bytes before failing (%v)", len(c.body), got, err)
			}
		})
	}
}

// TestWriteDecodeCorpus writes the seeds as testdata/fuzz/FuzzDecode files
// when MGMT_WRITE_CORPUS=1 (run it after changing decodeSeeds).
func TestWriteDecodeCorpus(t *testing.T) {
	if os.Getenv("MGMT_WRITE_CORPUS") != "1" {
		t.Skip("set MGMT_WRITE_CORPUS=1 to rewrite testdata/fuzz/FuzzDecode")
	}
	writeCorpus(t, "FuzzDecode", decodeSeeds())
}

func writeCorpus(t *testing.T, name string, seeds [][]byte) {
	dir := filepath.Join("testdata", "fuzz", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range seeds {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%02d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
