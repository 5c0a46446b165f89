package msgpx

import (
	"bytes"
	"testing"

	"github.com/tinylib/msgp/msgp"
)

// AppendBytesRef leaves values of RefMin bytes or more out of the buffer
// and Splice puts them back: for lengths around RefMin and around each bin
// header size, alone and several in a row, Splice's result is
// msgp.AppendBytes's encoding, Bytes counts what was left out, and with r
// nil nothing is.
func TestAppendBytesRef(t *testing.T) {
	lens := []int{0, 1, 255, 256, RefMin - 1, RefMin, RefMin + 1, 65535, 65536, 1 << 20}
	var want, got []byte
	var r Refs
	out := []byte("prefix")
	want = append(want, out...)
	left := 0
	for i, n := range lens {
		v := bytes.Repeat([]byte{byte(i + 1)}, n)
		want = msgp.AppendBytes(want, v)
		out = AppendBytesRef(out, v, &r)
		if n >= RefMin {
			left += n
		}
		if one := AppendBytesRef(nil, v, nil); !bytes.Equal(one, msgp.AppendBytes(nil, v)) {
			t.Fatalf("%d bytes, r nil: not msgp.AppendBytes's encoding", n)
		}
	}
	if r.Len() != 5 || r.Bytes() != left || r.BytesFrom(0) != left {
		t.Fatalf("Len %d, Bytes %d, BytesFrom(0) %d; want 5, %d", r.Len(), r.Bytes(), r.BytesFrom(0), left)
	}
	if len(out)+left != len(want) {
		t.Fatalf("buffer %d bytes + %d left out, want %d", len(out), left, len(want))
	}
	got = Splice([]byte("x"), out, &r)
	if !bytes.Equal(got[1:], want) || got[0] != 'x' {
		t.Fatal("Splice differs from msgp.AppendBytes's encoding")
	}
	if !bytes.Equal(Splice(nil, want, nil), want) {
		t.Fatal("Splice with r nil changed the buffer")
	}
	// Truncate drops the last references (a failed encoding) and their bytes.
	r.Truncate(2)
	if r.Len() != 2 || r.Bytes() != 2*RefMin+1 || r.At(1).B[0] != byte(7) {
		t.Fatalf("after Truncate(2): Len %d, Bytes %d", r.Len(), r.Bytes())
	}
	full := r.list[:5]
	r.Reset()
	if r.Len() != 0 || r.Bytes() != 0 || full[0].B != nil || full[4].B != nil {
		t.Fatal("Reset kept references")
	}
	var nilRefs *Refs
	if nilRefs.Len() != 0 || nilRefs.Bytes() != 0 {
		t.Fatal("a nil Refs is not empty")
	}
}
