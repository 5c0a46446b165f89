package mgmt

import (
	"testing"

	"github.com/tinylib/msgp/msgp"
)

// FuzzMsgpEnd checks msgpEnd, which bounds the copy of a string arena,
// against msgp.Skip: the same end for every input Skip accepts, no panic
// and an end within the input otherwise.
func FuzzMsgpEnd(f *testing.F) {
	for _, v := range []any{
		nil, true, 1, -1, 300, -300, 1 << 40, uint64(1 << 63), 1.5, float32(2.5), "", "héllo",
		[]byte{1, 2}, []any{1, "a", []any{nil}}, map[string]any{"a": map[string]any{"b": []byte{}}},
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
	} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		end := msgpEnd(b)
		if rest, err := msgp.Skip(b); err == nil && end != len(b)-len(rest) {
			t.Fatalf("msgpEnd(%x) = %d, msgp.Skip leaves %d of %d bytes", b, end, len(rest), len(b))
		}
		if end < 0 || end > len(b) {
			t.Fatalf("msgpEnd(%x) = %d, outside the input", b, end)
		}
	})
}

// BenchmarkMsgpEnd compares msgpEnd with msgp.Skip on a 1000-entry list.
func BenchmarkMsgpEnd(b *testing.B) {
	p := &ListResponsePayload{Entries: make([]ListEntry, 1000)}
	for i := range p.Entries {
		p.Entries[i] = ListEntry{ID: "id", Name: "some name", State: "running", ChildPID: i, RSS: 1 << 20}
	}
	msg, err := p.MarshalMsg(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("impl=msgpEnd", func(b *testing.B) {
		for b.Loop() {
			if msgpEnd(msg) != len(msg) {
				b.Fatal("wrong end")
			}
		}
	})
	b.Run("impl=msgp.Skip", func(b *testing.B) {
		for b.Loop() {
			if rest, err := msgp.Skip(msg); err != nil || len(rest) != 0 {
				b.Fatal("wrong end")
			}
		}
	})
}
