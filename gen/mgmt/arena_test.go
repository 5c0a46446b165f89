package mgmt_test

// Tests of the arena of the generated UnmarshalMsg methods
// (internal/codegen/arena.go, runtime/msgpx): the strings and bytes of a
// message are packed into a few chunks of msgpx.ChunkSize bytes, which
// successive messages share.

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/tinylib/msgp/msgp"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/internal/memtest"
	"github.com/mgmtgen/mgmtgen/runtime/msgpx"
)

// arenaSink makes the decoded structs escape, as they do in a server or
// client, so that AllocsPerRun counts them.
var arenaSink any

func arenaList(n int) *mgmt.ListResponsePayload {
	p := &mgmt.ListResponsePayload{Entries: make([]mgmt.ListEntry, n)}
	for i := range p.Entries {
		p.Entries[i] = entry(fmt.Sprintf("p%d", i))
	}
	return p
}

func arenaStatus() *mgmt.StatusResponsePayload {
	return &mgmt.StatusResponsePayload{Entry: entry("web"), Err: `unknown process "x"`}
}

func arenaMarshal(t *testing.T, v msgp.Marshaler) []byte {
	t.Helper()
	b, err := v.MarshalMsg(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// listChunks is the number of arena chunks the strings of p take: a string
// that does not fit in what is left of the current chunk starts a new one.
func listChunks(p *mgmt.ListResponsePayload) float64 {
	n, free := 0, 0
	for _, e := range p.Entries {
		for _, s := range []string{e.ID, e.Name, e.State} {
			if len(s) > free {
				n, free = n+1, msgpx.ChunkSize
			}
			free -= len(s)
		}
	}
	return float64(n)
}

// Decoding a message costs the struct (heap-allocated here), its slices,
// and one allocation per chunk of its strings and bytes, which successive
// messages share: a message with less than a chunk of them costs none on
// average (AllocsPerRun averages over 200 decodes).
func TestArenaDecodeAllocs(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   msgp.Marshaler
		new  func() msgp.Unmarshaler
		max  float64
	}{
		{"StatusResponse", arenaStatus(), func() msgp.Unmarshaler { return new(mgmt.StatusResponsePayload) }, 1},
		{"StatusRequest", &mgmt.StatusRequestPayload{ID: "web"}, func() msgp.Unmarshaler { return new(mgmt.StatusRequestPayload) }, 1},
		{"StatusRequest empty ID", &mgmt.StatusRequestPayload{}, func() msgp.Unmarshaler { return new(mgmt.StatusRequestPayload) }, 1},
		{"ListResponse 1", arenaList(1), func() msgp.Unmarshaler { return new(mgmt.ListResponsePayload) }, 2},
		{"ListResponse 100", arenaList(100), func() msgp.Unmarshaler { return new(mgmt.ListResponsePayload) }, 3},
		{"ListResponse 1000", arenaList(1000), func() msgp.Unmarshaler { return new(mgmt.ListResponsePayload) }, 2 + listChunks(arenaList(1000))},
		{"EventsSubscribe", &mgmt.EventsSubscribePayload{ProcessIDs: []string{"web", "db", "cache"}, Types: []string{"process.crashed"}},
			func() msgp.Unmarshaler { return new(mgmt.EventsSubscribePayload) }, 3},
		{"LogsStream 64 B", arenaLogs(64), func() msgp.Unmarshaler { return new(mgmt.LogsStreamPayload) }, 1},       // ID and Data in a shared chunk
		{"LogsStream 4 KiB", arenaLogs(4 << 10), func() msgp.Unmarshaler { return new(mgmt.LogsStreamPayload) }, 2}, // Data of ChunkSize: its own
	} {
		b := arenaMarshal(t, tc.in)
		n := testing.AllocsPerRun(200, func() {
			z := tc.new()
			if _, err := z.UnmarshalMsg(b); err != nil {
				t.Fatal(err)
			}
			arenaSink = z
		})
		t.Logf("%s: %v allocations per decode", tc.name, n)
		if n > tc.max {
			t.Errorf("%s: %v allocations per decode, want <= %v", tc.name, n, tc.max)
		}
		if !reflect.DeepEqual(arenaSink, tc.in) {
			t.Errorf("%s: decoded %+v, want %+v", tc.name, arenaSink, tc.in)
		}
	}
}

func arenaLogs(n int) *mgmt.LogsStreamPayload {
	return &mgmt.LogsStreamPayload{ID: "proc-0007", Stream: 1, Data: bytes.Repeat([]byte("log line\n"), n/9+1)[:n]}
}

// The arena allocates what the strings and bytes of a message need, not
// what the message holds: a 4 KiB Data gets an allocation of its own, the
// ID (and a short Data) a share of a chunk. Averaged over 200 decodes.
func TestArenaDecodeBytes(t *testing.T) {
	const runs = 200
	// The struct, the chunks' share (a chunk over all the runs) and the
	// rounding of a size class.
	slack := uint64(unsafe.Sizeof(mgmt.LogsStreamPayload{})) + msgpx.ChunkSize/runs + 64
	for _, tc := range []struct {
		name string
		in   *mgmt.LogsStreamPayload
		max  uint64 // bytes allocated per decode, the struct included
	}{
		{"64 B", arenaLogs(64), 64 + 9 + slack}, // Data and the 9-byte ID
		{"4 KiB", arenaLogs(4 << 10), 4<<10 + 9 + slack},
		{"64 KiB", arenaLogs(64 << 10), 64<<10 + 9 + slack},
	} {
		b := arenaMarshal(t, tc.in)
		var z *mgmt.LogsStreamPayload
		n := memtest.Allocated(func() {
			for range runs {
				z = new(mgmt.LogsStreamPayload)
				if _, err := z.UnmarshalMsg(b); err != nil {
					t.Fatal(err)
				}
			}
		}) / runs
		t.Logf("LogsStream %s: %d bytes allocated per decode", tc.name, n)
		if n > tc.max {
			t.Errorf("LogsStream %s: %d bytes allocated per decode, want <= %d", tc.name, n, tc.max)
		}
		if !reflect.DeepEqual(z, tc.in) || cap(z.Data) != len(z.Data) {
			t.Errorf("LogsStream %s: decoded %q (cap %d), want %q", tc.name, z.Data, cap(z.Data), tc.in.Data)
		}
	}
	// Data before ID in the map: an append to Data must not write over the ID
	// that follows it in the chunk.
	b := msgp.AppendMapHeader(nil, 2)
	b = msgp.AppendString(b, "d")
	b = msgp.AppendBytes(b, []byte("out"))
	b = msgp.AppendString(b, "id")
	b = msgp.AppendString(b, "web")
	var z mgmt.LogsStreamPayload
	if _, err := z.UnmarshalMsg(b); err != nil {
		t.Fatal(err)
	}
	d := append(z.Data, "put"...)
	if z.ID != "web" || string(d) != "output" || string(z.Data) != "out" {
		t.Errorf("after an append to Data: ID %q, Data %q, appended %q", z.ID, z.Data, d)
	}
}

// A retained string keeps at most max(its length, msgpx.ChunkSize) bytes
// alive, whatever else its message held: here the 5-byte ID of a Logs
// request padded with a 1 MiB unknown field (the procd case, where the
// padding went up to 16 MiB: the ID is kept for as long as the follow runs),
// and one entry's ID of a 1000-entry list. Measured on the live heap after
// GC, over 32 retained strings so that unrelated heap noise averages out.
func TestArenaRetention(t *testing.T) {
	const keep = 32
	padded := func(id string) []byte {
		b := msgp.AppendMapHeader(nil, 2)
		b = msgp.AppendString(b, "id")
		b = msgp.AppendString(b, id)
		b = msgp.AppendString(b, "padding")
		return msgp.AppendString(b, strings.Repeat("p", 1<<20))
	}
	list := arenaMarshal(t, arenaList(1000))
	for _, tc := range []struct {
		name   string
		decode func(i int) string // decodes a fresh message, returns the retained string
		max    uint64             // live bytes per retained string
	}{
		{"Logs request, 1 MiB padding", func(i int) string {
			var z mgmt.LogsRequestPayload
			if _, err := z.UnmarshalMsg(padded(fmt.Sprintf("id%03d", i))); err != nil {
				t.Fatal(err)
			}
			return z.ID
		}, msgpx.ChunkSize + 1024},
		{"Logs frame's Data (64 B), 1 MiB padding", func(i int) string {
			b := msgp.AppendMapHeader(nil, 2)
			b = msgp.AppendString(b, "d")
			b = msgp.AppendBytes(b, bytes.Repeat([]byte{byte(i)}, 64))
			b = msgp.AppendString(b, "padding")
			b = msgp.AppendBytes(b, make([]byte, 1<<20))
			var z mgmt.LogsStreamPayload
			if _, err := z.UnmarshalMsg(b); err != nil {
				t.Fatal(err)
			}
			return unsafe.String(unsafe.SliceData(z.Data), len(z.Data)) // keeps what z.Data keeps
		}, msgpx.ChunkSize + 1024},
		{"one entry of a 1000-entry list", func(i int) string {
			var z mgmt.ListResponsePayload
			if _, err := z.UnmarshalMsg(bytes.Clone(list)); err != nil {
				t.Fatal(err)
			}
			return z.Entries[500].ID
		}, msgpx.ChunkSize + 1024},
	} {
		kept := make([]string, keep)
		before := memtest.LiveHeap()
		for i := range kept {
			kept[i] = tc.decode(i)
		}
		per := (memtest.LiveHeap() - min(before, memtest.LiveHeap())) / keep
		t.Logf("%s: %d bytes live per retained string", tc.name, per)
		if per > tc.max {
			t.Errorf("%s: %d bytes live per retained %d-byte string, want <= %d", tc.name, per, len(kept[0]), tc.max)
		}
		runtime.KeepAlive(kept)
	}
}

// The strings survive the input buffer: the arena is a copy.
func TestArenaStringsOutliveInput(t *testing.T) {
	for _, enc := range []func(any) ([]byte, error){
		func(v any) ([]byte, error) { return v.(msgp.Marshaler).MarshalMsg(nil) },
		msgpack.Marshal, // as cliwrap writes it
	} {
		list, status := arenaList(3), arenaStatus()
		lb, err := enc(list)
		if err != nil {
			t.Fatal(err)
		}
		sb, err := enc(status)
		if err != nil {
			t.Fatal(err)
		}
		var gotList mgmt.ListResponsePayload
		var gotStatus mgmt.StatusResponsePayload
		if _, err := gotList.UnmarshalMsg(lb); err != nil {
			t.Fatal(err)
		}
		if _, err := gotStatus.UnmarshalMsg(sb); err != nil {
			t.Fatal(err)
		}
		for _, b := range [][]byte{lb, sb} {
			for i := range b {
				b[i] = 0xFF
			}
		}
		if !reflect.DeepEqual(&gotList, list) || !reflect.DeepEqual(&gotStatus, status) {
			t.Errorf("after overwriting the input: %+v, %+v", gotList, gotStatus)
		}
	}
}

// MaxLen is still enforced, before the oversized string is allocated, at the
// top level and in nested entries.
func TestArenaLimits(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	for _, tc := range []struct {
		name string
		in   any
		z    msgp.Unmarshaler
	}{
		{"StatusRequest ID", mgmt.StatusRequestPayload{ID: big[:4097]}, new(mgmt.StatusRequestPayload)},
		{"StatusRequest ID 1 MiB", mgmt.StatusRequestPayload{ID: big}, new(mgmt.StatusRequestPayload)},
		{"ListEntry State", mgmt.ListResponsePayload{Entries: []mgmt.ListEntry{{State: big}}}, new(mgmt.ListResponsePayload)},
		{"StatusResponse Entry.ID", mgmt.StatusResponsePayload{Entry: mgmt.ListEntry{ID: big}}, new(mgmt.StatusResponsePayload)},
		{"EventsSubscribe Types", mgmt.EventsSubscribePayload{Types: []string{big[:257]}}, new(mgmt.EventsSubscribePayload)},
	} {
		b, err := msgpack.Marshal(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		var derr error
		n := allocOf(func() { _, derr = tc.z.UnmarshalMsg(b) })
		if !errors.Is(derr, msgp.ErrLimitExceeded) {
			t.Errorf("%s: %v, want ErrLimitExceeded", tc.name, derr)
		}
		if n > 2<<10 {
			t.Errorf("%s: allocated %d bytes per decode", tc.name, n)
		}
	}
	// At the limit is fine.
	var z mgmt.StatusRequestPayload
	if _, err := z.UnmarshalMsg(arenaMarshal(t, &mgmt.StatusRequestPayload{ID: big[:4096]})); err != nil || z.ID != big[:4096] {
		t.Errorf("ID at the limit: %v", err)
	}
}

// FuzzArenaDecode: what UnmarshalMsg decodes equals what DecodeMsg (no
// arena) decodes from the same bytes, and stays so once the input is
// overwritten. The seeds are FuzzDecode's.
func FuzzArenaDecode(f *testing.F) {
	for _, s := range decodeSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		d := decoders[int(data[0])%len(decoders)]
		body := bytes.Clone(data[1:])
		u, r := d.new(), msgp.NewReader(bytes.NewReader(data[1:]))
		r.SetMaxStringLength(uint64(len(body)))
		if _, err := u.UnmarshalMsg(body); err != nil {
			return
		}
		w := d.new()
		if err := w.DecodeMsg(r); err != nil {
			return
		}
		clear(body)
		if !reflect.DeepEqual(u, w) {
			t.Fatalf("%s: UnmarshalMsg %+v, DecodeMsg %+v", d.name, u, w)
		}
	})
}
