package msgpx

import (
	"math"

	"github.com/tinylib/msgp/msgp"
)

// RefMin is the shortest bytes value AppendBytesRef leaves out of the
// buffer: below it, copying costs less than a separate piece of a writev.
const RefMin = 16 << 10

// Ref is a bytes value left out of an encoded buffer: its bytes belong at
// offset Off of the buffer (after its bin header, which is in the buffer).
type Ref struct {
	Off int
	B   []byte
}

// Refs lists the bytes values an encoder left out of its buffer, in
// buffer order: the encoding is the buffer with each Ref's bytes inserted
// at its offset (Splice). A Refs holds references to its caller's slices:
// whoever fills one must write the pieces out before those slices may
// change, and Reset drops them. The zero value is empty and ready.
type Refs struct {
	list []Ref
	n    int // the bytes of every Ref
}

// AppendBytesRef is msgp.AppendBytes(b, v), except that with r not nil a
// value of RefMin bytes or more is not copied: its bin header is appended
// and v recorded in r at the header's end. Splice(b, r) is then exactly
// msgp.AppendBytes's encoding.
func AppendBytesRef(b []byte, v []byte, r *Refs) []byte {
	if r == nil || len(v) < RefMin || uint64(len(v)) > math.MaxUint32 {
		return msgp.AppendBytes(b, v)
	}
	b = msgp.AppendBytesHeader(b, uint32(len(v)))
	r.list = append(r.list, Ref{Off: len(b), B: v})
	r.n += len(v)
	return b
}

// Len is the number of references (0 for a nil r).
func (r *Refs) Len() int {
	if r == nil {
		return 0
	}
	return len(r.list)
}

// At is reference i.
func (r *Refs) At(i int) Ref { return r.list[i] }

// Bytes is the length of every referenced value together: what Splice adds
// to the buffer (0 for a nil r).
func (r *Refs) Bytes() int {
	if r == nil {
		return 0
	}
	return r.n
}

// BytesFrom is the length of the values of references i and later.
func (r *Refs) BytesFrom(i int) int {
	n := 0
	for _, ref := range r.list[i:] {
		n += len(ref.B)
	}
	return n
}

// Truncate drops the references from i on (an encoding that failed).
func (r *Refs) Truncate(i int) {
	r.n -= r.BytesFrom(i)
	clear(r.list[i:])
	r.list = r.list[:i]
}

// Reset drops every reference, keeping the list's memory.
func (r *Refs) Reset() { r.Truncate(0) }

// Splice appends to dst the encoding b and r describe: b with each
// referenced value inserted at its offset (r nil: b as it is).
func Splice(dst, b []byte, r *Refs) []byte {
	if r == nil {
		return append(dst, b...)
	}
	at := 0
	for _, ref := range r.list {
		dst = append(dst, b[at:ref.Off]...)
		dst = append(dst, ref.B...)
		at = ref.Off
	}
	return append(dst, b[at:]...)
}
