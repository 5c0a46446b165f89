package bench

import (
	"fmt"
	"reflect"
	"testing"
	"unsafe"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/msgpx"
	"github.com/tinylib/msgp/msgp"
)

// The copy floor: the least that any decoder into a new struct must do
// when it copies what it keeps (as UnmarshalMsg must: the caller owns its
// input and may overwrite it). It parses nothing: the struct is new, each
// string and bytes value is copied into fresh memory from offsets found
// before the loop, the way msgpx.Arena does it (values shorter than
// ChunkSize packed into shared 4 KiB chunks, longer ones in an allocation
// of their own), and the numbers are stored from the source message. A
// decoder that runs at less than 5x the reflection codec's time on a
// payload whose floor already costs more than a fifth of it cannot reach
// 5x there without aliasing its input or giving up the retention bound.

// The allocation floor is less: only the allocations of the new struct
// that reflection makes too (the struct, and a list's slice), with no
// string or bytes at all. A payload whose allocation floor costs more than
// a fifth of the reflection codec's time cannot be decoded into a new
// struct at 5x by any decoder, copying or not.

// allocFloor returns the allocation floor of the payload src: a function
// that allocates a new payload of src's type, with src's number of list
// entries, and fills in nothing.
func allocFloor(src codecMsg) func() codecMsg {
	if l, ok := src.(*mgmt.ListResponsePayload); ok {
		n := len(l.Entries)
		return func() codecMsg {
			return &mgmt.ListResponsePayload{Entries: make([]mgmt.ListEntry, n)}
		}
	}
	switch src.(type) {
	case *mgmt.StatusRequestPayload:
		return func() codecMsg { return new(mgmt.StatusRequestPayload) }
	case *mgmt.StatusResponsePayload:
		return func() codecMsg { return new(mgmt.StatusResponsePayload) }
	case *mgmt.LogsStreamPayload:
		return func() codecMsg { return new(mgmt.LogsStreamPayload) }
	case *mgmt.EventsStreamPayload:
		return func() codecMsg { return new(mgmt.EventsStreamPayload) }
	}
	panic(fmt.Sprintf("bench: no allocation floor for %T", src))
}

// The memory floor is the copy floor without the arena's way of
// allocating: one pointer-free allocation as large as all the memory the
// new message needs (the struct, a list's slice, every string and bytes
// value), with the values copied in. Any copying decoder allocates at
// least that much fresh memory, in one allocation or more, some of it
// holding pointers: for a small message this is less than any copying
// decoder costs (for a large one, one allocation over 32 KiB costs more
// than the same bytes in chunks).

// memSink keeps the memory floor's allocation reachable, as a caller
// keeps a decoded message.
var memSink []byte

// memFloor returns the memory floor of the payload src encoded as data
// with the value spans sp.
func memFloor(src codecMsg, data []byte, sp []span) func() {
	size := int(reflect.TypeOf(src).Elem().Size())
	if l, ok := src.(*mgmt.ListResponsePayload); ok {
		size += len(l.Entries) * int(unsafe.Sizeof(mgmt.ListEntry{}))
	}
	size += valueBytes(sp)
	return func() {
		m := make([]byte, size)
		o := size
		for _, s := range sp {
			o -= s.n
			copy(m[o:], data[s.off:s.off+s.n])
		}
		memSink = m
	}
}

// valueBytes is the length of the values sp together.
func valueBytes(sp []span) (n int) {
	for _, s := range sp {
		n += s.n
	}
	return n
}

// A span is one string or bytes value of an encoded message: its bytes
// are data[off:off+n].
type span struct{ off, n int }

// valueSpans returns the spans of the string and bytes values of the
// encoded message data (map keys are not values), in wire order.
func valueSpans(data []byte) ([]span, error) {
	var sp []span
	rest, err := appendSpans(data, data, &sp)
	if err == nil && len(rest) != 0 {
		err = fmt.Errorf("%d bytes after the message", len(rest))
	}
	return sp, err
}

func appendSpans(all, b []byte, sp *[]span) ([]byte, error) {
	switch msgp.NextType(b) {
	case msgp.MapType:
		n, b, err := msgp.ReadMapHeaderBytes(b)
		for ; err == nil && n > 0; n-- {
			if _, b, err = msgp.ReadMapKeyZC(b); err == nil {
				b, err = appendSpans(all, b, sp)
			}
		}
		return b, err
	case msgp.ArrayType:
		n, b, err := msgp.ReadArrayHeaderBytes(b)
		for ; err == nil && n > 0; n-- {
			b, err = appendSpans(all, b, sp)
		}
		return b, err
	case msgp.StrType:
		v, o, err := msgp.ReadStringZC(b)
		if err == nil {
			*sp = append(*sp, span{len(all) - len(o) - len(v), len(v)})
		}
		return o, err
	case msgp.BinType:
		v, o, err := msgp.ReadBytesZC(b)
		if err == nil {
			*sp = append(*sp, span{len(all) - len(o) - len(v), len(v)})
		}
		return o, err
	}
	return msgp.Skip(b)
}

// floorAlloc is where a floor's values are copied to: an Arena, as the
// decoder does, or (whole) one allocation of exactly the message's strings
// and bytes, carved in order: no work per value and one allocation per
// message at any size, but no retention bound (one retained string keeps
// all of them): what giving up the bound for "<= 3 allocations at any
// size" would buy.
type floorAlloc struct {
	a     msgpx.Arena
	whole bool
	one   []byte
}

func newFloorAlloc(total int, whole bool) *floorAlloc {
	f := &floorAlloc{whole: whole}
	if whole {
		f.one = make([]byte, total)
	}
	return f
}

// floorCopy copies value sp[0] of data out of f, the way the arena copies
// a string or bytes value, and returns it with the spans after it.
func floorCopy(f *floorAlloc, data []byte, sp []span) ([]byte, []span) {
	s := sp[0]
	var v []byte
	if f.whole {
		v, f.one = f.one[:s.n:s.n], f.one[s.n:]
	} else {
		v = f.a.Bytes(data[s.off:], uint32(s.n))
	}
	copy(v, data[s.off:s.off+s.n])
	return v, sp[1:]
}

// floorString is floorCopy for a string value.
func floorString(f *floorAlloc, data []byte, sp []span) (string, []span) {
	if sp[0].n == 0 {
		return "", sp[1:]
	}
	v, sp := floorCopy(f, data, sp)
	return unsafe.String(&v[0], len(v)), sp
}

// copyFloor returns the copy floor of the payload src: a function that
// builds a new payload equal to src from its encoding data and the spans
// of data's values, without parsing; whole: with its values in one
// allocation instead of the arena's chunks.
func copyFloor(src codecMsg, whole bool) func(data []byte, sp []span) codecMsg {
	entry := func(a *floorAlloc, e *mgmt.ListEntry, src *mgmt.ListEntry, data []byte, sp []span) []span {
		e.ID, sp = floorString(a, data, sp)
		e.Name, sp = floorString(a, data, sp)
		e.State, sp = floorString(a, data, sp)
		e.ChildPID, e.RSS = src.ChildPID, src.RSS
		return sp
	}
	switch src := src.(type) {
	case *mgmt.ListResponsePayload:
		return func(data []byte, sp []span) codecMsg {
			a := newFloorAlloc(valueBytes(sp), whole)
			p := new(mgmt.ListResponsePayload)
			p.Entries = make([]mgmt.ListEntry, len(src.Entries))
			for i := range p.Entries {
				sp = entry(a, &p.Entries[i], &src.Entries[i], data, sp)
			}
			a.a.Release()
			return p
		}
	case *mgmt.StatusRequestPayload:
		return func(data []byte, sp []span) codecMsg {
			a := newFloorAlloc(valueBytes(sp), whole)
			p := new(mgmt.StatusRequestPayload)
			p.ID, _ = floorString(a, data, sp)
			a.a.Release()
			return p
		}
	case *mgmt.StatusResponsePayload:
		return func(data []byte, sp []span) codecMsg {
			a := newFloorAlloc(valueBytes(sp), whole)
			p := new(mgmt.StatusResponsePayload)
			sp = entry(a, &p.Entry, &src.Entry, data, sp)
			p.Err, _ = floorString(a, data, sp)
			a.a.Release()
			return p
		}
	case *mgmt.LogsStreamPayload:
		return func(data []byte, sp []span) codecMsg {
			a := newFloorAlloc(valueBytes(sp), whole)
			p := new(mgmt.LogsStreamPayload)
			p.ID, sp = floorString(a, data, sp)
			p.Data, _ = floorCopy(a, data, sp)
			p.Stream, p.EOF = src.Stream, src.EOF
			a.a.Release()
			return p
		}
	case *mgmt.EventsStreamPayload:
		return func(data []byte, sp []span) codecMsg {
			a := newFloorAlloc(valueBytes(sp), whole)
			p := new(mgmt.EventsStreamPayload)
			p.ProcessID, sp = floorString(a, data, sp)
			p.Type, sp = floorString(a, data, sp)
			p.Summary, _ = floorString(a, data, sp)
			p.Timestamp = src.Timestamp
			a.a.Release()
			return p
		}
	}
	panic(fmt.Sprintf("bench: no copy floor for %T", src))
}

// TestCopyFloor checks that the copy floor builds what UnmarshalMsg
// decodes, from fresh memory, so that impl=copy-floor does the copying
// work of impl=mgmtgen-fresh and nothing less.
func TestCopyFloor(t *testing.T) {
	for _, c := range codecCases() {
		data := must(c.msg.MarshalMsg(nil))
		sp, err := valueSpans(data)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		want := c.fresh()
		if _, err := want.UnmarshalMsg(data); err != nil {
			t.Fatal(err)
		}
		got, one := copyFloor(c.msg, false)(data, sp), copyFloor(c.msg, true)(data, sp)
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(one, want) {
			t.Fatalf("%s: the copy floors built %+v and %+v, UnmarshalMsg decoded %+v", c.name, got, one, want)
		}
		// Every value is a copy: overwriting the input changes nothing.
		for i := range data {
			data[i] = 0xc1
		}
		if !reflect.DeepEqual(got, c.msg) || !reflect.DeepEqual(one, c.msg) {
			t.Errorf("%s: a copy floor's values alias its input", c.name)
		}
	}
}

// TestMemFloor checks that the memory floor allocates the struct's size,
// a list's slice and the values, and copies each value.
func TestMemFloor(t *testing.T) {
	src := ListResponse(2)
	data := must(src.MarshalMsg(nil))
	sp, err := valueSpans(data)
	if err != nil {
		t.Fatal(err)
	}
	memFloor(src, data, sp)()
	var strs int
	for _, e := range src.Entries {
		strs += len(e.ID) + len(e.Name) + len(e.State)
	}
	if want := 24 + 2*int(unsafe.Sizeof(mgmt.ListEntry{})) + strs; len(memSink) != want {
		t.Errorf("memory floor of 2 entries: %d bytes, want %d", len(memSink), want)
	}
	if tail := string(memSink[len(memSink)-len(src.Entries[0].ID):]); tail != src.Entries[0].ID {
		t.Errorf("memory floor ends with %q, want the first value %q", tail, src.Entries[0].ID)
	}
}

// TestValueSpans checks the spans of a message with keys, nested maps,
// arrays, numbers and empty values.
func TestValueSpans(t *testing.T) {
	data := must(ListResponse(2).MarshalMsg(nil))
	sp, err := valueSpans(data)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range sp {
		got = append(got, string(data[s.off:s.off+s.n]))
	}
	want := []string{"proc-0000", "worker 0 (nginx -g daemon off)", "running", "proc-0001", "worker 1 (nginx -g daemon off)", "running"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("spans %q, want %q", got, want)
	}
	data = must((&mgmt.LogsStreamPayload{Data: []byte{}}).MarshalMsg(nil))
	if sp, err = valueSpans(data); err != nil || len(sp) != 2 || sp[0].n != 0 || sp[1].n != 0 {
		t.Errorf("empty ID and Data: spans %v, %v", sp, err)
	}
	if _, err := valueSpans(append(data, 0xc0)); err == nil {
		t.Error("a byte after the message: no error")
	}
}
