package msgpx

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/tinylib/msgp/msgp"
)

func seeds(f *testing.F) {
	for _, v := range []any{
		nil, true, 1, -1, 300, -300, 1 << 40, uint64(1 << 63), 1.5, -1 << 40, int8(-100), uint8(200),
		int16(-30000), uint16(60000), int32(-1 << 30), uint32(1 << 31), int64(-1 << 62), uint64(1<<64 - 1), float32(2.5), "", "héllo",
		[]byte{1, 2}, []any{1, "a", []any{nil}}, map[string]any{"a": map[string]any{"b": []byte{}}},
		map[string]any{"id": "web", "n": []any{"x", "yy", nil}},
		msgp.Extension(&msgp.RawExtension{Type: 5, Data: make([]byte, 3)}),
	} {
		b, err := msgp.AppendIntf(nil, v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(append(b, 0xc0))
	}
	for _, b := range [][]byte{
		{0xc1}, {0xd8, 1}, {0xc7, 3, 1, 1, 2, 3}, {0xc9, 0, 0, 1, 0, 7}, {0xdd, 0xff, 0xff, 0xff, 0xff},
		{0xdf, 0, 0, 0, 1, 0xa1, 'k', 0xd4, 1, 2}, {0xdb, 0xff, 0xff, 0xff, 0xff, 'x'}, {0x92, 0x81},
		message([]string{"a", "bb", string(make([]byte, 300))}, 10, 10),
		// integers in wider encodings than needed, and cut short
		{0xcc, 5}, {0xcd, 0, 5}, {0xce, 0, 0, 0, 5}, {0xcf, 0, 0, 0, 0, 0, 0, 0, 5}, {0xd0, 5}, {0xd1, 0xff, 0xfb},
		{0xd2, 0xff, 0xff, 0xff, 0xfb}, {0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfb}, {0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0},
		{0xcc}, {0xcd, 1}, {0xd3, 1, 2, 3}, {0xe0}, {0x7f},
	} {
		f.Add(b)
	}
}

// FuzzSmallTotal checks the first chunk's scan against a walk of the
// object with msgp's readers: the same total of strings and bins shorter
// than ChunkSize for every input msgp reads as one object, and with a
// smaller max either that total or a number of at least max.
func FuzzSmallTotal(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		got := smallTotal(b, math.MaxInt)
		if got < 0 || got > len(b) {
			t.Fatalf("smallTotal(%x) = %d, outside the input", b, got)
		}
		want, _, err := walkSmall(b)
		if err != nil {
			return
		}
		if got != want {
			t.Fatalf("smallTotal(%x) = %d, msgp's readers count %d", b, got, want)
		}
		for _, max := range []int{0, 1, want / 2, want} {
			if g := smallTotal(b, max); g != want && g < max {
				t.Fatalf("smallTotal(%x, %d) = %d, total %d", b, max, g, want)
			}
		}
	})
}

// walkSmall is smallTotal written with msgp's readers, recursively.
func walkSmall(b []byte) (int, []byte, error) {
	small := func(n int) int {
		if n < ChunkSize {
			return n
		}
		return 0
	}
	switch msgp.NextType(b) {
	case msgp.StrType:
		v, o, err := msgp.ReadStringZC(b)
		return small(len(v)), o, err
	case msgp.BinType:
		v, o, err := msgp.ReadBytesZC(b)
		return small(len(v)), o, err
	case msgp.ArrayType, msgp.MapType:
		var sz uint32
		var o []byte
		var err error
		n := uint64(1) // objects per count
		if msgp.NextType(b) == msgp.ArrayType {
			sz, o, err = msgp.ReadArrayHeaderBytes(b)
		} else {
			sz, o, err = msgp.ReadMapHeaderBytes(b)
			n = 2
		}
		n *= uint64(sz)
		total := 0
		for range n {
			if err != nil {
				break
			}
			var k int
			k, o, err = walkSmall(o)
			total += k
		}
		return total, o, err
	}
	o, err := msgp.Skip(b)
	return 0, o, err
}

// FuzzArena reads every string it finds in the input through an arena (and
// skips anything else), each replacing the one before it, and checks each
// against msgp.ReadStringBytes, after the input is overwritten, and the
// chunks against ChunkSize.
func FuzzArena(f *testing.F) {
	seeds(f)
	f.Add([]byte{0xa2, 'a', 'b', 0xa2, 'a', 'b', 0xd9, 2, 'a', 'b', 0xa1, 'a', 0xa0, 0xda, 0, 1, 'a'})
	f.Fuzz(func(t *testing.T, data []byte) {
		in := bytes.Clone(data)
		a := NewArena(in)
		var got, want []string
		for b := in; len(b) > 0; {
			if msgp.NextType(b) != msgp.StrType {
				var err error
				if b, err = msgp.Skip(b); err != nil {
					break
				}
				continue
			}
			var old string
			if len(got) > 0 {
				old = got[len(got)-1]
			}
			s, o, err := a.ReadStringBytes(b, uint64(len(data)), old)
			w, wo, werr := msgp.ReadStringBytes(b)
			if (err == nil) != (werr == nil) || err == nil && len(o) != len(wo) {
				t.Fatalf("arena: %v, %d left; msgp: %v, %d left", err, len(o), werr, len(wo))
			}
			if err != nil {
				break
			}
			if cap(a.buf) > ChunkSize {
				t.Fatalf("chunk of %d bytes", cap(a.buf))
			}
			got, want, b = append(got, s), append(want, w), o
		}
		clear(in)
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("string %d: %q after overwriting the input, want %q", i, got[i], want[i])
			}
		}
	})
}

// FuzzReaders: the nil-tolerant readers never panic and agree with msgp on
// every input msgp reads, but for nil and counts the input cannot hold.
func FuzzReaders(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, r := range nilReaders {
			gn, gro, gerr := r.x(b)
			if msgp.IsNil(b) {
				if gerr != nil || len(gro) != len(b)-1 {
					t.Fatalf("%s(nil): %v, %d left", r.name, gerr, len(gro))
				}
				continue
			}
			wn, wro, werr := r.msgp(b)
			bounded := r.minSize > 0 && errors.Is(gerr, msgp.ErrShortBytes) && werr == nil && r.minSize*wn > len(wro)
			if (gerr == nil) != (werr == nil) && !bounded || gerr == nil && werr == nil && (gn != wn || !bytes.Equal(gro, wro)) {
				t.Fatalf("%s(%x): %d, %x, %v; msgp %d, %x, %v", r.name, b, gn, gro, gerr, wn, wro, werr)
			}
		}
		if s, _, err := ReadStringBytes(b, 3); err == nil && len(s) > 3 {
			t.Fatalf("ReadStringBytes(%x, 3) = %q", b, s)
		}
	})
}

// FuzzFast: each fast path returns exactly what the msgp reader of the same
// name returns (value, rest and error) on every input.
func FuzzFast(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		k, ko, kerr := ReadMapKeyZC(b)
		wk, wko, wkerr := msgp.ReadMapKeyZC(b)
		if !bytes.Equal(k, wk) || !bytes.Equal(ko, wko) || (kerr == nil) != (wkerr == nil) || kerr != nil && kerr.Error() != wkerr.Error() {
			t.Fatalf("ReadMapKeyZC(%x) = %q, %x, %v; msgp %q, %x, %v", b, k, ko, kerr, wk, wko, wkerr)
		}
		same(t, "ReadBoolBytes", b, ReadBoolBytes, msgp.ReadBoolBytes)
		same(t, "ReadIntBytes", b, ReadIntBytes, msgp.ReadIntBytes)
		same(t, "ReadInt8Bytes", b, ReadInt8Bytes, msgp.ReadInt8Bytes)
		same(t, "ReadInt16Bytes", b, ReadInt16Bytes, msgp.ReadInt16Bytes)
		same(t, "ReadInt32Bytes", b, ReadInt32Bytes, msgp.ReadInt32Bytes)
		same(t, "ReadInt64Bytes", b, ReadInt64Bytes, msgp.ReadInt64Bytes)
		same(t, "ReadDurationBytes", b, ReadDurationBytes, msgp.ReadDurationBytes)
		same(t, "ReadUintBytes", b, ReadUintBytes, msgp.ReadUintBytes)
		same(t, "ReadUint8Bytes", b, ReadUint8Bytes, msgp.ReadUint8Bytes)
		same(t, "ReadUint16Bytes", b, ReadUint16Bytes, msgp.ReadUint16Bytes)
		same(t, "ReadUint32Bytes", b, ReadUint32Bytes, msgp.ReadUint32Bytes)
		same(t, "ReadUint64Bytes", b, ReadUint64Bytes, msgp.ReadUint64Bytes)
	})
}

// same fails t unless the fast path fast and the msgp reader want return
// the same value, rest (the same bytes, nil told apart from empty) and
// error text on b.
func same[T comparable](t *testing.T, name string, b []byte, fast, want func([]byte) (T, []byte, error)) {
	t.Helper()
	v, o, err := fast(b)
	wv, wo, werr := want(b)
	if v != wv || !bytes.Equal(o, wo) || (o == nil) != (wo == nil) || (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() {
		t.Fatalf("%s(%x) = %v, %x, %v; msgp %v, %x, %v", name, b, v, o, err, wv, wo, werr)
	}
}
