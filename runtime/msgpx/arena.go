package msgpx

import (
	"sync/atomic"
	"unsafe"
)

// ChunkSize is the size of an Arena's chunks, and so the most memory a
// string decoded from one keeps alive beyond its own bytes.
const ChunkSize = 4 << 10

// An Arena hands out the strings and bytes decoded from one message packed
// into chunks of ChunkSize bytes, which successive messages share: decoding
// costs one allocation per ChunkSize bytes of strings and bytes, over all
// the messages decoded, instead of one per value (or one per message). Only
// their bytes are copied, never the rest of the message.
//
// Retention: a string or bytes shorter than ChunkSize shares its chunk with
// those decoded just before and after it, from the same message or from
// others, so a retained one keeps at most ChunkSize bytes alive; one of
// ChunkSize bytes or more gets an allocation of its own and keeps only
// itself alive. Whatever else the message held (long bytes, unknown fields,
// padding, the messages after it in the same buffer) is never retained.
// Bytes have a capacity of their own length, so an append copies them and
// never writes over a neighbour; strings are never written again.
//
// Allocations: Release hands the arena's current chunk, with what is left
// of it, to the next arena (through one of a few slots, so that goroutines
// decoding at the same time mostly keep to their own). A value that does
// not fit what is left of the current chunk starts a new one. A message
// whose strings and bytes shorter than ChunkSize total S bytes thus takes
// about S/ChunkSize new chunks (0 for most small messages, 1 at most for S
// <= ChunkSize), plus one allocation per value of ChunkSize bytes or more.
//
// The zero Arena is ready to use. An Arena is not safe for concurrent use,
// and must not be used after Release; the strings it returns are ordinary
// immutable strings, safe to share and to keep after the input is
// overwritten and after Release.
type Arena struct {
	buf []byte // the current chunk; bytes below len(buf) are handed out, never written by the arena again
	c   *chunk // holds buf while it waits in chunks for the next arena
}

// A chunk carries a partly used chunk from one arena to the next.
type chunk struct{ buf []byte }

// chunks holds chunks released by arenas, each with room left, one per
// slot. An arena's slot is picked by its address, on its goroutine's stack
// (or on the heap), so that goroutines decoding at the same time mostly use
// slots of their own; a slot is taken and refilled with atomic swaps, so a
// chunk is only ever in one arena's hands. At most len(chunks) chunks wait
// there; a garbage collection leaves them. (A sync.Pool, tried first, made
// decoding with GOMAXPROCS=1 30-90 % slower in BenchmarkDecode.)
var chunks [16]struct {
	p atomic.Pointer[chunk]
	_ [64 - 8]byte // a cache line each
}

// slot is a's slot in chunks.
func (a *Arena) slot() *atomic.Pointer[chunk] {
	h := uint64(uintptr(unsafe.Pointer(a))) * 0x9e3779b97f4a7c15 // Fibonacci hashing: the top bits mix all of them
	return &chunks[h>>60].p
}

// minRoom is the least room left that makes a chunk worth handing on.
const minRoom = 32

// Release hands a's chunk on to the next arena that uses the same slot; a
// must not be used again.
func (a *Arena) Release() {
	if a.c == nil {
		return
	}
	if cap(a.buf)-len(a.buf) >= minRoom {
		a.c.buf = a.buf
		a.slot().Store(a.c) // a chunk another arena left there is dropped
	}
	*a = Arena{}
}

// next makes room for a string or bytes of n bytes (0 < n < ChunkSize) that
// do not fit the current chunk: the chunk a released arena left in a's
// slot, if it has room for them, else a new one.
func (a *Arena) next(n int) {
	if a.c == nil {
		if c := a.slot().Swap(nil); c != nil {
			a.c = c
			if n <= cap(c.buf)-len(c.buf) {
				a.buf, c.buf = c.buf, nil
				return
			}
			c.buf = nil
		} else {
			a.c = new(chunk)
		}
	}
	a.buf = make([]byte, 0, ChunkSize)
}

// ReadStringBytes is ReadStringBytes (the package function) returning a
// string from a's chunks. b must be a suffix of the arena's message. old is
// the value the string replaces (a struct decoded into again holds its
// last value): a string equal to it is old itself, and nothing is copied.
//
// The common case, a fixstr or str8 (up to 255 bytes), is read here without
// a call; anything else goes through readString.
func (a *Arena) ReadStringBytes(b []byte, n uint64, old string) (string, []byte, error) {
	var size, hdr int
	switch {
	case len(b) > 0 && b[0]&0xe0 == 0xa0: // fixstr: 101xxxxx
		size, hdr = int(b[0]&0x1f), 1
	case len(b) > 1 && b[0] == 0xd9: // str8
		size, hdr = int(b[1]), 2
	default:
		return a.readString(b, n, old)
	}
	end := hdr + size
	if end > len(b) || uint64(size) > n {
		return a.readString(b, n, old) // msgp's error, or the limit's
	}
	v := b[hdr:end]
	switch {
	case size == len(old) && string(v) == old:
		return old, b[end:], nil
	case size == 0:
		return "", b[end:], nil
	case size > cap(a.buf)-len(a.buf):
		a.next(size)
	}
	off := len(a.buf)
	a.buf = a.buf[:off+size]
	copy(a.buf[off:], v)
	return unsafe.String(&a.buf[off], size), b[end:], nil
}

// readString is ReadStringBytes for any string header.
func (a *Arena) readString(b []byte, n uint64, old string) (string, []byte, error) {
	v, o, err := readStringZC(b, n)
	switch {
	case err != nil:
		return "", b, err
	case string(v) == old:
		return old, o, nil
	}
	return a.string(v), o, nil
}

// string returns a copy of v from a's chunks.
func (a *Arena) string(v []byte) string {
	if len(v) == 0 {
		return ""
	}
	if len(v) > cap(a.buf)-len(a.buf) {
		if len(v) >= ChunkSize {
			return string(v)
		}
		a.next(len(v))
	}
	off := len(a.buf)
	a.buf = a.buf[:off+len(v)]
	copy(a.buf[off:], v)
	// The bytes a.buf[off:off+len(v)] are never written again: later strings
	// are appended after them, and a new chunk replaces a.buf when it is full.
	return unsafe.String(&a.buf[off], len(v))
}

// Bytes returns the n bytes of a bytes field, for the caller to copy from
// b (the input after the field's header): from a's chunks when shorter than
// ChunkSize, else an allocation of their own. Its capacity is n, so an
// append never writes into the chunk, and it holds no string. It is nil,
// with nothing allocated, when b holds fewer than n bytes: the caller then
// reports msgp.ErrShortBytes.
func (a *Arena) Bytes(b []byte, n uint32) []byte {
	size := int(n)
	switch {
	case uint64(n) > uint64(len(b)):
		return nil
	case size == 0 || size >= ChunkSize:
		return make([]byte, size)
	case size > cap(a.buf)-len(a.buf):
		a.next(size)
	}
	off := len(a.buf)
	a.buf = a.buf[:off+size]
	return a.buf[off : off+size : off+size]
}
