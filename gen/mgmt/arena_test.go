package mgmt_test

// Tests of the string arena of the generated UnmarshalMsg methods
// (internal/codegen/arena.go): every string of a message is a substring of
// one copy of the message.

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/tinylib/msgp/msgp"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
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

// Decoding a message costs one allocation for all its strings, plus the
// struct (heap-allocated here) and its slices.
func TestArenaDecodeAllocs(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   msgp.Marshaler
		new  func() msgp.Unmarshaler
		max  float64
	}{
		{"StatusResponse", arenaStatus(), func() msgp.Unmarshaler { return new(mgmt.StatusResponsePayload) }, 2},
		{"StatusRequest", &mgmt.StatusRequestPayload{ID: "web"}, func() msgp.Unmarshaler { return new(mgmt.StatusRequestPayload) }, 2},
		{"StatusRequest empty ID", &mgmt.StatusRequestPayload{}, func() msgp.Unmarshaler { return new(mgmt.StatusRequestPayload) }, 1},
		{"ListResponse 1", arenaList(1), func() msgp.Unmarshaler { return new(mgmt.ListResponsePayload) }, 3},
		{"ListResponse 1000", arenaList(1000), func() msgp.Unmarshaler { return new(mgmt.ListResponsePayload) }, 3},
		{"EventsSubscribe", &mgmt.EventsSubscribePayload{ProcessIDs: []string{"web", "db", "cache"}, Types: []string{"process.crashed"}},
			func() msgp.Unmarshaler { return new(mgmt.EventsSubscribePayload) }, 4},
	} {
		b := arenaMarshal(t, tc.in)
		n := testing.AllocsPerRun(50, func() {
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
