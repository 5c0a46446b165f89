package every

// Shared helpers of the round-trip tests; TestGeneratedCode copies this file
// into every generated package of the temporary module, setting the package
// clause.

import (
	"bytes"
	"fmt"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/mgmtgen/mgmtgen/runtime/msgpx"
)

// codec is a pointer to a generated type.
type codec[T any] interface {
	*T
	msgp.Marshaler
	msgp.Unmarshaler
	msgp.Encodable
	msgp.Decodable
	msgp.Sizer
}

// roundTrip sends in through every path between the generated methods and
// vmihailenco/msgpack and checks each result equals in. Nil and empty
// slices, maps and bytes must stay distinct, except where loose (omitempty
// fields turn empty into absent, hence nil).
func roundTrip[T any, P codec[T]](t *testing.T, name string, in P, loose bool) {
	t.Helper()
	b, err := in.MarshalMsg(nil)
	if err != nil {
		t.Fatalf("%s: MarshalMsg: %v", name, err)
	}
	if in.Msgsize() < len(b) {
		t.Errorf("%s: Msgsize %d < encoded size %d", name, in.Msgsize(), len(b))
	}
	var got T
	if rest, err := P(&got).UnmarshalMsg(b); err != nil || len(rest) != 0 {
		t.Fatalf("%s: msgp -> msgp: %v (%d bytes left)", name, err, len(rest))
	}
	check(t, name+": msgp -> msgp", in, &got, loose)

	var buf bytes.Buffer
	w := msgp.NewWriter(&buf)
	if err := in.EncodeMsg(w); err != nil || w.Flush() != nil {
		t.Fatalf("%s: EncodeMsg: %v", name, err)
	}
	if buf.Len() != len(b) { // same bytes but for map order
		t.Errorf("%s: EncodeMsg wrote %d bytes, MarshalMsg %d", name, buf.Len(), len(b))
	}
	var dec T
	if err := P(&dec).DecodeMsg(msgp.NewReader(&buf)); err != nil {
		t.Fatalf("%s: DecodeMsg: %v", name, err)
	}
	check(t, name+": Encode -> Decode", in, &dec, loose)

	var theirs T
	if err := msgpack.Unmarshal(b, &theirs); err != nil {
		t.Fatalf("%s: msgp -> vmihailenco: %v", name, err)
	}
	check(t, name+": msgp -> vmihailenco", in, &theirs, loose)

	vb, err := msgpack.Marshal(in)
	if err != nil {
		t.Fatalf("%s: vmihailenco Marshal: %v", name, err)
	}
	var ours T
	if rest, err := P(&ours).UnmarshalMsg(vb); err != nil || len(rest) != 0 {
		t.Fatalf("%s: vmihailenco -> UnmarshalMsg: %v (%d bytes left)", name, err, len(rest))
	}
	check(t, name+": vmihailenco -> UnmarshalMsg", in, &ours, loose)
	var ours2 T
	if err := P(&ours2).DecodeMsg(msgp.NewReader(bytes.NewReader(vb))); err != nil {
		t.Fatalf("%s: vmihailenco -> DecodeMsg: %v", name, err)
	}
	check(t, name+": vmihailenco -> DecodeMsg", in, &ours2, loose)
	checkRefs(t, name, in, b, loose)
}

// refMarshaler is the method mgmtgen generates for structs holding bytes.
type refMarshaler interface {
	MarshalMsgRefs([]byte, *msgpx.Refs) ([]byte, error)
}

// checkRefs: when in has a MarshalMsgRefs, its encoding with the
// references spliced in is as long as MarshalMsg's (want) and decodes, by
// UnmarshalMsg and by vmihailenco, to in (maps make the bytes differ in
// order: exactRefs compares bytes), every value left out has msgpx.RefMin
// bytes or more, and without Refs nothing is left out.
func checkRefs[T any, P codec[T]](t *testing.T, name string, in P, want []byte, loose bool) {
	t.Helper()
	rm, ok := any(in).(refMarshaler)
	if !ok {
		return
	}
	var r msgpx.Refs
	out, err := rm.MarshalMsgRefs([]byte("pre"), &r)
	if err != nil {
		t.Fatalf("%s: MarshalMsgRefs: %v", name, err)
	}
	got := msgpx.Splice(nil, out, &r)
	if len(got) != len(want)+3 || string(got[:3]) != "pre" {
		t.Fatalf("%s: MarshalMsgRefs spliced is %d bytes, MarshalMsg's %d", name, len(got)-3, len(want))
	}
	var dec, theirs T
	if rest, err := P(&dec).UnmarshalMsg(got[3:]); err != nil || len(rest) != 0 {
		t.Fatalf("%s: MarshalMsgRefs -> UnmarshalMsg: %v (%d bytes left)", name, err, len(rest))
	}
	check(t, name+": MarshalMsgRefs -> UnmarshalMsg", in, &dec, loose)
	if err := msgpack.Unmarshal(got[3:], &theirs); err != nil {
		t.Fatalf("%s: MarshalMsgRefs -> vmihailenco: %v", name, err)
	}
	check(t, name+": MarshalMsgRefs -> vmihailenco", in, &theirs, loose)
	for i := range r.Len() {
		if len(r.At(i).B) < msgpx.RefMin {
			t.Errorf("%s: a value of %d bytes left out", name, len(r.At(i).B))
		}
	}
	if out, err := rm.MarshalMsgRefs(nil, nil); err != nil || len(out) != len(want) {
		t.Errorf("%s: MarshalMsgRefs without Refs: %d bytes, MarshalMsg's %d (%v)", name, len(out), len(want), err)
	}
}

// exactRefs: for a value without maps of more than one entry (whose
// encoding is therefore one byte sequence), MarshalMsgRefs spliced is
// MarshalMsg's encoding byte for byte and leaves out left values; without
// Refs it is MarshalMsg's too.
func exactRefs(t *testing.T, name string, in interface {
	msgp.Marshaler
	refMarshaler
}, left int) {
	t.Helper()
	want, err := in.MarshalMsg(nil)
	if err != nil {
		t.Fatal(err)
	}
	var r msgpx.Refs
	out, err := in.MarshalMsgRefs(nil, &r)
	if err != nil {
		t.Fatal(err)
	}
	if got := msgpx.Splice(nil, out, &r); !bytes.Equal(got, want) || r.Len() != left {
		t.Errorf("%s: MarshalMsgRefs spliced (%d values left out, want %d) differs from MarshalMsg", name, r.Len(), left)
	}
	if out, err := in.MarshalMsgRefs(nil, nil); err != nil || !bytes.Equal(out, want) {
		t.Errorf("%s: MarshalMsgRefs without Refs differs from MarshalMsg (%v)", name, err)
	}
}

// refSizes are bytes lengths around msgpx.RefMin, for values that
// MarshalMsgRefs copies (below) or leaves out (at and above).
var refSizes = []int{msgpx.RefMin - 1, msgpx.RefMin, msgpx.RefMin + 1}

// leftOut is how many values MarshalMsgRefs leaves out for one bytes value
// of n bytes: one from msgpx.RefMin on, none below.
func leftOut(n int) int {
	if n >= msgpx.RefMin {
		return 1
	}
	return 0
}

// refBytes is a value of n bytes.
func refBytes(n int) []byte { return bytes.Repeat([]byte{0xb5}, n) }

func check(t *testing.T, what string, want, got any, loose bool) {
	t.Helper()
	if d := diff("", reflect.ValueOf(want), reflect.ValueOf(got), loose); d != "" {
		t.Errorf("%s: %s", what, d)
	}
}

var timeType = reflect.TypeFor[time.Time]()

// diff compares like reflect.DeepEqual, but times with Equal (zones differ
// between codecs) and, unless loose, nil and empty slices and maps as
// different. It returns the path of the first difference.
func diff(path string, a, b reflect.Value, loose bool) string {
	if a.Type() == timeType {
		ta, tb := a.Interface().(time.Time), b.Interface().(time.Time)
		if !ta.Equal(tb) {
			return fmt.Sprintf("%s: time %v != %v", path, ta, tb)
		}
		return ""
	}
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				return fmt.Sprintf("%s: nil pointer %v != %v", path, a.IsNil(), b.IsNil())
			}
			return ""
		}
		return diff(path, a.Elem(), b.Elem(), loose)
	case reflect.Struct:
		for i := range a.NumField() {
			if d := diff(path+"."+a.Type().Field(i).Name, a.Field(i), b.Field(i), loose); d != "" {
				return d
			}
		}
		return ""
	case reflect.Slice, reflect.Map:
		if !loose && a.IsNil() != b.IsNil() {
			return fmt.Sprintf("%s: nil %v != nil %v", path, a.IsNil(), b.IsNil())
		}
		if a.Len() != b.Len() {
			return fmt.Sprintf("%s: len %d != %d", path, a.Len(), b.Len())
		}
		if a.Kind() == reflect.Slice && a.Type().Elem().Kind() == reflect.Uint8 {
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				return fmt.Sprintf("%s: bytes differ", path)
			}
			return ""
		}
		if a.Kind() == reflect.Slice {
			for i := range a.Len() {
				if d := diff(fmt.Sprintf("%s[%d]", path, i), a.Index(i), b.Index(i), loose); d != "" {
					return d
				}
			}
			return ""
		}
		for _, k := range a.MapKeys() {
			bv := b.MapIndex(k)
			if !bv.IsValid() {
				return fmt.Sprintf("%s[%v]: missing", path, k)
			}
			if d := diff(fmt.Sprintf("%s[%v]", path, k), a.MapIndex(k), bv, loose); d != "" {
				return d
			}
		}
		return ""
	}
	if !reflect.DeepEqual(a.Interface(), b.Interface()) {
		return fmt.Sprintf("%s: %#v != %#v", path, a.Interface(), b.Interface())
	}
	return ""
}

// allocated returns the bytes f allocates on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// rawMap builds a msgpack map from keys and already-encoded values, so tests
// choose the exact wire form of every value.
func rawMap(kv ...any) []byte {
	b := msgp.AppendMapHeader(nil, uint32(len(kv)/2))
	for i := 0; i < len(kv); i += 2 {
		b = msgp.AppendString(b, kv[i].(string))
		b = append(b, kv[i+1].([]byte)...)
	}
	return b
}

// vm encodes v with vmihailenco/msgpack.
func vm(t *testing.T, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// bothDecoders decodes b into a fresh T with UnmarshalMsg and with DecodeMsg
// and returns both results and errors.
func bothDecoders[T any, P codec[T]](b []byte) (u, d *T, uerr, derr error) {
	u, d = new(T), new(T)
	_, uerr = P(u).UnmarshalMsg(b)
	derr = P(d).DecodeMsg(msgp.NewReader(bytes.NewReader(b)))
	return u, d, uerr, derr
}
