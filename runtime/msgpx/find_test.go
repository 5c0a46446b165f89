package msgpx

import (
	"bytes"
	"testing"

	"github.com/tinylib/msgp/msgp"
)

// logsFrame is a Logs frame's body as the generated encoder writes it,
// with its Data under key "d".
func logsFrame(data []byte) []byte {
	b := msgp.AppendMapHeader(nil, 4)
	b = msgp.AppendString(b, "id")
	b = msgp.AppendString(b, "proc-0007")
	b = msgp.AppendString(b, "s")
	b = msgp.AppendUint8(b, 1)
	b = msgp.AppendString(b, "d")
	b = msgp.AppendBytes(b, data)
	b = msgp.AppendString(b, "eof")
	return msgp.AppendBool(b, false)
}

func TestFindBin(t *testing.T) {
	big := bytes.Repeat([]byte("log line\n"), 8000) // bin32
	for _, tc := range []struct {
		name string
		b    []byte
		key  string
		want []byte // nil: not found
	}{
		{"bin8", logsFrame([]byte("out")), "d", []byte("out")},
		{"bin32", logsFrame(big), "d", big},
		{"empty", logsFrame([]byte{}), "d", []byte{}},
		{"absent key", logsFrame([]byte("out")), "data", nil},
		{"not bin", logsFrame([]byte("out")), "id", nil},
		{"first of two", msgp.AppendBytes(msgp.AppendString(msgp.AppendBytes(msgp.AppendString(msgp.AppendMapHeader(nil, 2), "d"), []byte("one")), "d"), []byte("two")), "d", []byte("one")},
		{"nil value", msgp.AppendNil(msgp.AppendString(msgp.AppendMapHeader(nil, 1), "d")), "d", nil},
		{"cut short", logsFrame(big)[:100], "d", nil},
		{"not a map", msgp.AppendBytes(nil, []byte("d")), "d", nil},
		{"key past the pairs", msgp.AppendBytes(msgp.AppendString(msgp.AppendMapHeader(nil, 0), "d"), []byte("x")), "d", nil},
	} {
		off, n, ok := FindBin(tc.b, tc.key)
		switch {
		case ok != (tc.want != nil):
			t.Errorf("%s: found %v, want %v", tc.name, ok, tc.want != nil)
		case ok && !bytes.Equal(tc.b[off:off+n], tc.want):
			t.Errorf("%s: %q at %d, want %q", tc.name, tc.b[off:off+n], off, tc.want)
		}
	}
}

// FuzzFindBin: FindBin never panics, and what it finds is where a msgp
// reader of the same key finds it: the bytes of a bin value in the input.
func FuzzFindBin(f *testing.F) {
	seeds(f)
	f.Add(logsFrame([]byte("out")))
	f.Add(logsFrame(make([]byte, 300)))
	f.Fuzz(func(t *testing.T, b []byte) {
		off, n, ok := FindBin(b, "d")
		if !ok {
			return
		}
		if off < 0 || n < 0 || off+n > len(b) {
			t.Fatalf("FindBin(%x) = %d, %d: out of the input", b, off, n)
		}
		// The same walk with msgp's own readers.
		pairs, o, err := msgp.ReadMapHeaderBytes(b)
		for i := uint32(0); err == nil && i < pairs; i++ {
			var k []byte
			if k, o, err = msgp.ReadMapKeyZC(o); err != nil {
				break
			}
			if string(k) == "d" {
				v, _, err := msgp.ReadBytesZC(o)
				if err != nil || len(v) != n || len(v) > 0 && &v[0] != &b[off] {
					t.Fatalf("FindBin(%x) = %d, %d; msgp reads %d bytes at %d, %v", b, off, n, len(v), len(b)-len(o), err)
				}
				return
			}
			o, err = msgp.Skip(o)
		}
		t.Fatalf("FindBin(%x) = %d, %d; msgp finds no value of \"d\" (%v)", b, off, n, err)
	})
}
