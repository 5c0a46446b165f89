package msgpx

import "unsafe"

// ChunkSize is the size of an Arena's chunks, and so the most memory a
// string decoded from one keeps alive beyond its own bytes.
const ChunkSize = 4 << 10

// smallRest is the input size up to which a first chunk takes all the input
// left without looking for the end of the message: finding it costs more
// than the bytes it could save.
const smallRest = 256

// An Arena hands out the strings decoded from one message packed into
// shared chunks of at most ChunkSize bytes: decoding a message costs one
// allocation per ChunkSize bytes of strings instead of one per string. Only
// string bytes are copied, never the rest of the message.
//
// Retention: a string shorter than ChunkSize shares its chunk with strings
// decoded just before and after it, so a retained string keeps at most
// ChunkSize bytes alive (less for a message that holds less); a string of
// ChunkSize bytes or more gets an allocation of its own and keeps only
// itself alive. Whatever else the message held (bytes, unknown fields,
// padding, the messages after it in the same buffer) is never retained.
//
// Size: the first chunk is no larger than the rest of the message from its
// first string (found with a scan of at most ChunkSize bytes past it, when
// more than 256 bytes of input are left), a later one no larger than the
// input left, so a message with few strings allocates little for them
// whatever follows it in its buffer.
//
// An Arena is not safe for concurrent use; the strings it returns are
// ordinary immutable strings, safe to share and to keep after the input is
// overwritten.
type Arena struct {
	msg []byte // the encoded message, from its first byte
	buf []byte // the current chunk; bytes below len(buf) are handed out, never written again
}

// NewArena returns an arena for the strings of the message msg starts with.
func NewArena(msg []byte) Arena { return Arena{msg: msg} }

// ReadStringBytes is ReadStringBytes (the package function) returning a
// string from a's chunks. b must be a suffix of the arena's message.
//
// The common case, a fixstr or str8 (up to 255 bytes) that fits the current
// chunk, is read here without a call; anything else goes through
// readString.
func (a *Arena) ReadStringBytes(b []byte, n uint64) (string, []byte, error) {
	var size, hdr int
	switch {
	case len(b) > 0 && b[0]&0xe0 == 0xa0: // fixstr: 101xxxxx
		size, hdr = int(b[0]&0x1f), 1
	case len(b) > 1 && b[0] == 0xd9: // str8
		size, hdr = int(b[1]), 2
	default:
		return a.readString(b, n)
	}
	if off := len(a.buf); 0 < size && hdr+size <= len(b) && uint64(size) <= n && size <= cap(a.buf)-off {
		a.buf = a.buf[:off+size]
		copy(a.buf[off:], b[hdr:hdr+size])
		return unsafe.String(&a.buf[off], size), b[hdr+size:], nil
	}
	return a.readString(b, n)
}

// readString is ReadStringBytes for any string header.
func (a *Arena) readString(b []byte, n uint64) (string, []byte, error) {
	v, o, err := readStringZC(b, n)
	if err != nil {
		return "", b, err
	}
	return a.string(v, len(o)), o, nil
}

// string returns a copy of v from a's chunks; rest input bytes follow v.
func (a *Arena) string(v []byte, rest int) string {
	if len(v) == 0 {
		return ""
	}
	if len(v) > cap(a.buf)-len(a.buf) {
		if len(v) >= ChunkSize {
			return string(v)
		}
		a.buf = make([]byte, 0, a.chunkSize(len(v), rest))
	}
	off := len(a.buf)
	a.buf = a.buf[:off+len(v)]
	copy(a.buf[off:], v)
	// The bytes a.buf[off:off+len(v)] are never written again: later strings
	// are appended after them, and a new chunk replaces a.buf when it is full.
	return unsafe.String(&a.buf[off], len(v))
}

// chunkSize is the size of a new chunk for a string of n bytes followed by
// rest bytes of input: the strings still to come fit in them.
func (a *Arena) chunkSize(n, rest int) int {
	size := min(ChunkSize, n+rest)
	if a.buf != nil || n+rest <= smallRest {
		return size
	}
	// The first chunk: no larger than the message from this string on.
	start := len(a.msg) - rest - n // offset of the string in the message
	if start < 0 || rest > len(a.msg) {
		return size // b is not a suffix of msg: cannot happen in generated code
	}
	if end := objectEnd(a.msg, start+size); end >= start+n {
		size = min(size, end-start)
	}
	return size
}

// objectEnd returns the length of the msgpack object b starts with, or a
// number larger than limit as soon as it is known to end beyond limit, or
// len(b) if b does not hold a whole object. It is msgp.Skip without
// recursion, checking nothing but lengths.
func objectEnd(b []byte, limit int) int {
	i := 0
	for pending := uint64(1); pending > 0; pending-- {
		if i >= len(b) || pending > uint64(len(b)-i) {
			return len(b) // every object takes a byte at least
		}
		if i > limit {
			return i
		}
		c := b[i]
		if t := tokens[c]; t.size != 0 {
			i += int(t.size)
			pending += uint64(t.kids)
			continue
		}
		fixed, count, items, ok := lead(c)
		if !ok || len(b)-i-1 < count {
			return len(b)
		}
		var n uint64
		for _, d := range b[i+1 : i+1+count] {
			n = n<<8 | uint64(d)
		}
		switch {
		case items > 0:
			pending += items * n
		case n > uint64(len(b)):
			return len(b)
		default:
			fixed += int(n)
		}
		i += 1 + fixed
	}
	return min(i, len(b))
}

// tokens gives, for every lead byte that tells the size of its token, that
// size (else 0: see lead) and the number of objects the token opens
// (fixmap, fixarray).
var tokens = func() (t [256]struct{ size, kids uint8 }) {
	for c := range 256 {
		k := &t[c]
		switch {
		case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3: // fixint, nil, bool
			k.size = 1
		case c <= 0x8f: // fixmap
			k.size, k.kids = 1, uint8(2*(c&0x0f))
		case c <= 0x9f: // fixarray
			k.size, k.kids = 1, uint8(c&0x0f)
		case c <= 0xbf: // fixstr
			k.size = uint8(1 + c&0x1f)
		case c >= 0xd4 && c <= 0xd8: // fixext: type and 1 to 16 bytes
			k.size = uint8(2 + 1<<(c-0xd4))
		default:
			if fixed, count, _, ok := lead(byte(c)); ok && count == 0 {
				k.size = uint8(1 + fixed)
			}
		}
	}
	return t
}()

// lead describes the lead bytes 0xc1-0xdf other than nil, bool and fixext:
// the bytes after the lead byte and, of them, the size of a big-endian count
// of bytes (items 0) or of objects (items per count).
func lead(c byte) (fixed, count int, items uint64, ok bool) {
	switch c {
	case 0xcc, 0xd0: // uint8, int8
		return 1, 0, 0, true
	case 0xcd, 0xd1: // uint16, int16
		return 2, 0, 0, true
	case 0xca, 0xce, 0xd2: // float32, uint32, int32
		return 4, 0, 0, true
	case 0xcb, 0xcf, 0xd3: // float64, uint64, int64
		return 8, 0, 0, true
	case 0xc4, 0xd9: // bin8, str8
		return 1, 1, 0, true
	case 0xc5, 0xda: // bin16, str16
		return 2, 2, 0, true
	case 0xc6, 0xdb: // bin32, str32
		return 4, 4, 0, true
	case 0xc7, 0xc8, 0xc9: // ext8, ext16, ext32: count, type
		n := 1 << (c - 0xc7)
		return n + 1, n, 0, true
	case 0xdc, 0xdd: // array16, array32
		return 2 << (c - 0xdc), 2 << (c - 0xdc), 1, true
	case 0xde, 0xdf: // map16, map32
		return 2 << (c - 0xde), 2 << (c - 0xde), 2, true
	}
	return 0, 0, 0, false // 0xc1: never used
}
