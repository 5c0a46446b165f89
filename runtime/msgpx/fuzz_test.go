package msgpx

import (
	"bytes"
	"errors"
	"testing"

	"github.com/tinylib/msgp/msgp"
)

func seeds(f *testing.F) {
	for _, v := range []any{
		nil, true, 1, -1, 300, -300, 1 << 40, uint64(1 << 63), 1.5, float32(2.5), "", "héllo",
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
	} {
		f.Add(b)
	}
}

// FuzzObjectEnd checks the message-end scanner against msgp.Skip: the same
// end for every input Skip accepts, never outside the input, and with a
// limit either that end or a number past the limit.
func FuzzObjectEnd(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		end := objectEnd(b, len(b))
		if rest, err := msgp.Skip(b); err == nil && end != len(b)-len(rest) {
			t.Fatalf("objectEnd(%x) = %d, msgp.Skip leaves %d of %d bytes", b, end, len(rest), len(b))
		}
		if end < 0 || end > len(b) {
			t.Fatalf("objectEnd(%x) = %d, outside the input", b, end)
		}
		for _, limit := range []int{0, 1, len(b) / 2} {
			if got := objectEnd(b, limit); got != end && got <= limit {
				t.Fatalf("objectEnd(%x, %d) = %d, end %d", b, limit, got, end)
			}
		}
	})
}

// FuzzArena reads every string it finds in the input through an arena (and
// skips anything else), and checks each against msgp.ReadStringBytes, after
// the input is overwritten, and the chunks against ChunkSize.
func FuzzArena(f *testing.F) {
	seeds(f)
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
			s, o, err := a.ReadStringBytes(b, uint64(len(data)))
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
		v, vo, verr := ReadBoolBytes(b)
		wv, wvo, wverr := msgp.ReadBoolBytes(b)
		if v != wv || !bytes.Equal(vo, wvo) || (verr == nil) != (wverr == nil) || verr != nil && verr.Error() != wverr.Error() {
			t.Fatalf("ReadBoolBytes(%x) = %v, %x, %v; msgp %v, %x, %v", b, v, vo, verr, wv, wvo, wverr)
		}
	})
}
