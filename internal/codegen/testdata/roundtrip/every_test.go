package every

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"
	"github.com/vmihailenco/msgpack/v5"
)

var (
	when = time.Date(2026, 11, 25, 18, 30, 1, 123456789, time.UTC)
	mib  = bytes.Repeat([]byte{0xAB}, 1<<20)
	uni  = "héllo, 世界 🚀 \u0000 end"
)

func maxScalars() *Scalars {
	return &Scalars{
		Fbool: true, Fstring: uni, Fbytes: mib,
		Fint: math.MaxInt, Fint8: math.MaxInt8, Fint16: math.MaxInt16, Fint32: math.MaxInt32,
		Fint64: math.MaxInt64, Fuint: math.MaxUint, Fuint8: math.MaxUint8, Fuint16: math.MaxUint16,
		Fuint32: math.MaxUint32, Fuint64: math.MaxUint64, Ffloat32: math.MaxFloat32,
		Ffloat64: math.MaxFloat64, Ftime: when, Fduration: math.MaxInt64,
		Level: LevelHigh, Color: ColorBlue,
		Inner: Inner{Name: "a", Next: &Inner{Name: "b", Next: &Inner{}}, Kids: []Inner{{Name: "k"}, {Kids: []Inner{{}}}}},
	}
}

func minScalars() *Scalars {
	return &Scalars{
		Fstring: "", Fbytes: []byte{},
		Fint: math.MinInt, Fint8: math.MinInt8, Fint16: math.MinInt16, Fint32: math.MinInt32,
		Fint64: math.MinInt64, Ffloat32: -math.SmallestNonzeroFloat32,
		Ffloat64: -math.SmallestNonzeroFloat64, Ftime: time.Unix(-1, 5).UTC(), Fduration: math.MinInt64,
		Level: LevelLow, Color: "unknown",
	}
}

func emptyComposites() *Composites {
	return &Composites{
		Strings: []string{}, Bytes: [][]byte{}, Ints: []int64{}, Inners: []Inner{}, InnerPtrs: []*Inner{},
		Levels: []Level{}, Times: []time.Time{}, StrMap: map[string]string{}, ByteMap: map[string][]byte{},
		InnerMap: map[string]Inner{}, PtrMap: map[string]*Inner{}, ListMap: map[string][]string{},
		DurMap: map[string]time.Duration{}, Matrix: [][]int{}, Small: []string{}, Blob: []byte{},
	}
}

func fullComposites() *Composites {
	n, s, tm, dur, lvl := -7, uni, when, -time.Nanosecond, LevelLow
	return &Composites{
		Strings: []string{"", uni, "x"}, Bytes: [][]byte{{1, 2}, {}, mib[:10]},
		Ints: []int64{math.MinInt64, 0, math.MaxInt64}, Inners: []Inner{{Name: "i"}, {Next: &Inner{Name: "j"}}},
		InnerPtrs: []*Inner{{Name: "p"}, nil, {}}, Levels: []Level{LevelLow, LevelHigh, 42},
		Times:  []time.Time{when, time.Unix(0, 0).UTC(), when.Add(-time.Hour * 24 * 365 * 100)},
		StrMap: map[string]string{"": "", "k": uni}, ByteMap: map[string][]byte{"a": {0}, "b": {}},
		InnerMap: map[string]Inner{"x": {Name: "y"}}, PtrMap: map[string]*Inner{"nil": nil, "v": {Name: "v"}},
		ListMap: map[string][]string{"a": {"1", "2"}, "b": {"3"}}, DurMap: map[string]time.Duration{"d": -time.Second},
		PtrInt: &n, PtrStr: &s, PtrTime: &tm, PtrInner: &Inner{Name: "ptr"},
		Matrix: [][]int{{1, 2}, {3}, {math.MinInt}}, Small: []string{"12345678", "", "x"}, Blob: make([]byte, 16),
		TimePtrMap: map[string]*time.Time{"t": &tm, "nil": nil}, PtrDur: &dur,
		BytesListMap: map[string][][]byte{"b": {{1}, {2, 3}}}, MapList: []map[string]int{{"a": 1}, {"b": -1}},
		PtrLevel: &lvl, Colors: []Color{ColorRed, "other"}, LevelMap: map[string]Level{"h": LevelHigh},
		F32s: []float32{1.5, -0}, Bools: map[string]bool{"t": true, "f": false},
		MapMap: map[string]map[string]int{"a": {"b": 1}}, ListListBytes: [][][]byte{{{1}, {2}}},
		TimePtrs: []*time.Time{&tm, nil}, Durs: []time.Duration{1, -1},
	}
}

func TestRoundTrip(t *testing.T) {
	roundTrip(t, "zero Scalars", &Scalars{}, false)
	roundTrip(t, "max Scalars", maxScalars(), false)
	roundTrip(t, "min Scalars", minScalars(), false)
	roundTrip(t, "zero Composites", &Composites{}, false)
	roundTrip(t, "empty Composites", emptyComposites(), false)
	roundTrip(t, "full Composites", fullComposites(), false)
	roundTrip(t, "zero Omitted", &Omitted{}, false)
	roundTrip(t, "empty Omitted", &Omitted{L: []string{}, M: map[string]int{}, B: []byte{}}, true)
	roundTrip(t, "full Omitted", &Omitted{S: "s", L: []string{"l"}, M: map[string]int{"m": -1},
		B: []byte("b"), P: &Inner{}, N: math.MinInt}, false)
	roundTrip(t, "Nothing", &Nothing{}, false)
	roundTrip(t, "Inner", &Inner{Name: uni, Next: &Inner{}}, false)
}

// TestNilFromVmihailenco: vmihailenco encodes nil slices, maps and bytes as
// msgpack nil; the generated decoders read them as nil.
func TestNilFromVmihailenco(t *testing.T) {
	b := vm(t, &Composites{})
	if !bytes.Contains(b, []byte{0xa7, 'S', 't', 'r', 'i', 'n', 'g', 's', 0xc0}) {
		t.Fatalf("vmihailenco did not encode Strings as nil: % x", b)
	}
	u, d, uerr, derr := bothDecoders[Composites](b)
	if uerr != nil || derr != nil {
		t.Fatalf("UnmarshalMsg: %v, DecodeMsg: %v", uerr, derr)
	}
	check(t, "UnmarshalMsg", &Composites{}, u, false)
	check(t, "DecodeMsg", &Composites{}, d, false)

	// Our encoder writes nil as nil too: the same bytes vmihailenco writes.
	ours, err := (&Composites{}).MarshalMsg(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ours, b) {
		t.Errorf("nil Composites:\n msgp  % x\n vmihailenco % x", ours, b)
	}
}

// TestIntegerForms: any msgpack integer form whose value fits is accepted.
func TestIntegerForms(t *testing.T) {
	i64 := func(v int64) []byte { return append([]byte{0xd3}, be(uint64(v), 8)...) }
	u64 := func(v uint64) []byte { return append([]byte{0xcf}, be(v, 8)...) }
	b := rawMap(
		"uint8", i64(200), "int8", u64(5), "int16", []byte{0xd0, 0x80}, // int8 -128 into int16
		"uint64", []byte{0x05}, "int64", u64(math.MaxInt64), "int", []byte{0xe0}, // fixint -32
		"float64", msgp.AppendFloat32(nil, 1.5), "lvl", u64(300), "duration", []byte{0xcc, 0xff},
	)
	u, d, uerr, derr := bothDecoders[Scalars](b)
	if uerr != nil || derr != nil {
		t.Fatalf("UnmarshalMsg: %v, DecodeMsg: %v", uerr, derr)
	}
	want := &Scalars{Fuint8: 200, Fint8: 5, Fint16: -128, Fuint64: 5, Fint64: math.MaxInt64, Fint: -32,
		Ffloat64: 1.5, Level: LevelHigh, Fduration: 255}
	check(t, "UnmarshalMsg", want, u, false)
	check(t, "DecodeMsg", want, d, false)

	for name, raw := range map[string][]byte{
		"int8": u64(200), "uint8": i64(-1), "uint64": i64(-1), "int64": u64(math.MaxUint64),
	} {
		if _, _, uerr, derr := bothDecoders[Scalars](rawMap(name, raw)); uerr == nil || derr == nil {
			t.Errorf("%s = % x accepted (UnmarshalMsg: %v, DecodeMsg: %v)", name, raw, uerr, derr)
		}
	}
}

func be(v uint64, n int) []byte {
	b := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
	return b
}

// TestUnknownKeysAnyOrder: keys come in any order; unknown ones, of any
// shape, are skipped.
func TestUnknownKeysAnyOrder(t *testing.T) {
	b := vm(t, map[string]any{
		"zzz": map[string]any{"deep": []any{1, "x", nil, map[string]any{}}},
		"in":  map[string]any{"n": "inner", "extra": true}, "string": "s", "aaa": []byte{1},
		"int8": -3, "bool": true,
	})
	u, d, uerr, derr := bothDecoders[Scalars](b)
	if uerr != nil || derr != nil {
		t.Fatalf("UnmarshalMsg: %v, DecodeMsg: %v", uerr, derr)
	}
	want := &Scalars{Fbool: true, Fstring: "s", Fint8: -3, Inner: Inner{Name: "inner"}}
	check(t, "UnmarshalMsg", want, u, false)
	check(t, "DecodeMsg", want, d, false)
}

// TestTime: time.Time travels as the msgpack timestamp extension (-1) both
// ways; durations as int64 nanoseconds.
func TestTime(t *testing.T) {
	b, err := (&Scalars{Ftime: when, Fduration: 1500 * time.Millisecond}).MarshalMsg(nil)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := msgpack.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if tm, ok := m["time"].(time.Time); !ok || !tm.Equal(when) {
		t.Errorf("vmihailenco read time as %T %v", m["time"], m["time"])
	}
	var d struct {
		D int64 `msgpack:"duration"`
	}
	if err := msgpack.Unmarshal(b, &d); err != nil || d.D != int64(1500*time.Millisecond) {
		t.Errorf("vmihailenco read duration as %d, %v", d.D, err)
	}
	for _, tm := range []time.Time{when, time.Unix(1, 0), time.Unix(1<<33, 7), {}} {
		var s Scalars
		if _, err := s.UnmarshalMsg(vm(t, &Scalars{Ftime: tm})); err != nil || !s.Ftime.Equal(tm) {
			t.Errorf("%v: got %v, %v", tm, s.Ftime, err)
		}
	}
}

// TestLimits: list, map, bin and str headers above the field's limit fail
// with msgp.ErrLimitExceeded before anything is allocated, in both decoders.
func TestLimits(t *testing.T) {
	huge := []byte{0xdd, 0xff, 0xff, 0xff, 0xff}    // array32 of 2^32-1 items
	hugeMap := []byte{0xdf, 0xff, 0xff, 0xff, 0xff} // map32 of 2^32-1 pairs
	hugeBin := []byte{0xc6, 0xff, 0xff, 0xff, 0xff} // bin32 of 2^32-1 bytes
	cases := map[string][]byte{
		"Strings 2^32-1": rawMap("Strings", huge), "Matrix 2^32-1": rawMap("Matrix", huge),
		"StrMap 2^32-1": rawMap("StrMap", hugeMap), "Blob 2^32-1": rawMap("blob", hugeBin),
		"Bytes element 2^32-1":   rawMap("Bytes", append([]byte{0x91}, hugeBin...)),
		"Small 4 items":          rawMap("small", vm(t, []string{"a", "b", "c", "d"})),
		"Blob 17 bytes":          rawMap("blob", msgp.AppendBytes(nil, make([]byte, 17))),
		"Small element 9 bytes":  rawMap("small", vm(t, []string{"123456789"})),
		"Strings element 2^32-1": rawMap("Strings", []byte{0x91, 0xdb, 0xff, 0xff, 0xff, 0xff}),
		"StrMap value 2^32-1":    rawMap("StrMap", []byte{0x81, 0xa1, 'k', 0xdb, 0xff, 0xff, 0xff, 0xff}),
		"PtrStr 2^32-1":          rawMap("PtrStr", []byte{0xdb, 0xff, 0xff, 0xff, 0xff}),
		"Inner name 2^32-1":      rawMap("InnerMap", []byte{0x81, 0xa1, 'k', 0x81, 0xa1, 'n', 0xdb, 0xff, 0xff, 0xff, 0xff}),
	}
	for name, b := range cases {
		var uerr, derr error
		n := allocated(func() { _, _, uerr, derr = bothDecoders[Composites](b) })
		// UnmarshalMsg may see first that its input is shorter than the claim.
		short := strings.HasSuffix(name, "2^32-1") && errors.Is(uerr, msgp.ErrShortBytes)
		if !(errors.Is(uerr, msgp.ErrLimitExceeded) || short) || !errors.Is(derr, msgp.ErrLimitExceeded) {
			t.Errorf("%s: UnmarshalMsg: %v, DecodeMsg: %v; want ErrLimitExceeded", name, uerr, derr)
		}
		if n > 1<<20 {
			t.Errorf("%s: allocated %d bytes", name, n)
		}
	}
	// At the limit is fine.
	ok := rawMap("small", vm(t, []string{"a", "b", "12345678"}), "blob", msgp.AppendBytes(nil, make([]byte, 16)))
	if _, _, uerr, derr := bothDecoders[Composites](ok); uerr != nil || derr != nil {
		t.Errorf("at the limit: UnmarshalMsg: %v, DecodeMsg: %v", uerr, derr)
	}
}

func TestEnums(t *testing.T) {
	if !LevelHigh.Valid() || Level(7).Valid() || !ColorRed.Valid() || Color("x").Valid() {
		t.Error("Valid is wrong")
	}
	if LevelMid.String() != "LevelMid" || Level(7).String() != "Level(7)" {
		t.Errorf("String: %s %s", LevelMid, Level(7))
	}
	if ColorRed.String() != "red" {
		t.Errorf("String: %s", ColorRed)
	}
	if MessageName(MsgMax) != "Max" || MessageName(0xb0) != "unknown(0xb0)" {
		t.Errorf("MessageName: %s %s", MessageName(MsgMax), MessageName(0xb0))
	}
	if !strings.HasPrefix(MessageName(MsgMin), "Min") || MsgMin != 0 || MsgMax != 0xEF {
		t.Error("message constants")
	}
}

// TestNestedNil: lists, maps and bytes inside lists, maps and pointers may
// be nil on the wire (vmihailenco writes a nil inner slice as nil); they
// decode as nil or empty: below the field level nil and empty are not told
// apart. (msgp's allownil covers fields, not elements: mgmtgen routes the
// header reads through nil-accepting helpers.)
func TestNestedNil(t *testing.T) {
	for name, v := range map[string]*Composites{
		"ListMap": {ListMap: map[string][]string{"a": nil}},
		"Matrix":  {Matrix: [][]int{nil, {1}}},
		"Bytes":   {Bytes: [][]byte{nil}},
		"ByteMap": {ByteMap: map[string][]byte{"a": nil}},
	} {
		u, d, uerr, derr := bothDecoders[Composites](vm(t, v))
		if uerr != nil || derr != nil {
			t.Errorf("%s: UnmarshalMsg: %v, DecodeMsg: %v", name, uerr, derr)
			continue
		}
		check(t, name+": UnmarshalMsg", v, u, true)
		check(t, name+": DecodeMsg", v, d, true)
	}
	// A nil struct value decodes as the zero struct.
	b := rawMap("in", []byte{0xc0}, "string", []byte{0xa1, 'x'})
	u, d, uerr, derr := bothDecoders[Scalars](b)
	if uerr != nil || derr != nil || u.Fstring != "x" || d.Fstring != "x" {
		t.Errorf("nil struct: %v %v", uerr, derr)
	}
}
