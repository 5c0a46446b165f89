package msgpx

import (
	"bytes"
	"errors"
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

// FuzzArena reads every string it finds in the input through an arena (and
// skips anything else), each replacing the one before it, and checks each
// against msgp.ReadStringBytes, and the chunks against ChunkSize. The input
// is read twice, by two arenas, the second one taking the chunk the first
// released; then the input is overwritten: every string of both reads must
// still be msgp's.
func FuzzArena(f *testing.F) {
	seeds(f)
	f.Add([]byte{0xa2, 'a', 'b', 0xa2, 'a', 'b', 0xd9, 2, 'a', 'b', 0xa1, 'a', 0xa0, 0xda, 0, 1, 'a'})
	f.Fuzz(func(t *testing.T, data []byte) {
		in := bytes.Clone(data)
		got, want := arenaStrings(t, in, len(data))
		again, _ := arenaStrings(t, in, len(data))
		clear(in)
		for i := range got {
			if got[i] != want[i] || again[i] != want[i] {
				t.Fatalf("string %d: %q and %q after overwriting the input, want %q", i, got[i], again[i], want[i])
			}
		}
	})
}

// arenaStrings reads the strings of in through one arena, released at the
// end, and through msgp.ReadStringBytes.
func arenaStrings(t *testing.T, in []byte, limit int) (got, want []string) {
	var a Arena
	defer a.Release()
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
		s, o, err := a.ReadStringBytes(b, uint64(limit), old)
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
	return got, want
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
