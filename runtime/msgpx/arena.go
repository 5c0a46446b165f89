package msgpx

import "unsafe"

// ChunkSize is the size of an Arena's chunks, and so the most memory a
// string decoded from one keeps alive beyond its own bytes.
const ChunkSize = 4 << 10

// An Arena hands out the strings and bytes decoded from one message packed
// into shared chunks of at most ChunkSize bytes: decoding a message costs
// one allocation per ChunkSize bytes of strings and bytes instead of one per
// value. Only their bytes are copied, never the rest of the message.
//
// Retention: a string or bytes shorter than ChunkSize shares its chunk with
// those decoded just before and after it, so a retained one keeps at most
// ChunkSize bytes alive (less for a message that holds less); one of
// ChunkSize bytes or more gets an allocation of its own and keeps only
// itself alive. Whatever else the message held (long bytes, unknown fields,
// padding, the messages after it in the same buffer) is never retained.
// Bytes have a capacity of their own length, so an append copies them and
// never writes over a neighbour; strings are never written again.
//
// Allocations: the first chunk holds exactly the strings and bytes shorter
// than ChunkSize of the whole message (map keys counted too), up to
// ChunkSize, counted by a scan of the message that stops once ChunkSize is
// reached; when at most ChunkSize bytes of input are left, the chunk takes
// them all without a scan. A later chunk is ChunkSize, or the input left if
// that is less. A message whose short strings and bytes total S bytes thus takes
// one chunk when S <= ChunkSize, and about S/ChunkSize chunks otherwise
// (a value that does not fit what is left of a chunk starts the next one),
// plus one allocation per value of ChunkSize bytes or more.
//
// An Arena is not safe for concurrent use; the strings it returns are
// ordinary immutable strings, safe to share and to keep after the input is
// overwritten.
type Arena struct {
	msg []byte // the encoded message, from its first byte
	buf []byte // the current chunk; bytes below len(buf) are handed out, never written by the arena again
}

// NewArena returns an arena for the strings and bytes of the message msg
// starts with.
func NewArena(msg []byte) Arena { return Arena{msg: msg} }

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
		a.grow(size, len(b)-end)
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
		a.grow(len(v), rest)
	}
	off := len(a.buf)
	a.buf = a.buf[:off+len(v)]
	copy(a.buf[off:], v)
	// The bytes a.buf[off:off+len(v)] are never written again: later strings
	// are appended after them, and a new chunk replaces a.buf when it is full.
	return unsafe.String(&a.buf[off], len(v))
}

// grow starts a new chunk for a string or bytes of n bytes (shorter than
// ChunkSize) followed by rest bytes of input.
func (a *Arena) grow(n, rest int) {
	a.buf = make([]byte, 0, a.chunkSize(n, rest))
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
		a.grow(size, len(b)-size)
	}
	off := len(a.buf)
	a.buf = a.buf[:off+size]
	return a.buf[off : off+size : off+size]
}

// chunkSize is the size of a new chunk for a string or bytes of n bytes
// followed by rest bytes of input: the strings and bytes still to come fit
// in them. The first chunk, when more than ChunkSize bytes of input are
// left, holds exactly the strings and bytes shorter than ChunkSize of the
// message (map keys included), up to ChunkSize: smallTotal counts them.
// With less input left, counting would cost more time than the bytes it
// could save.
func (a *Arena) chunkSize(n, rest int) int {
	size := min(ChunkSize, n+rest)
	if a.buf != nil || n+rest <= ChunkSize {
		return size
	}
	return max(n, min(size, smallTotal(a.msg, size)))
}

// smallTotal returns the total length of the strings and bins shorter than
// ChunkSize in the msgpack object b starts with (map keys included), or a
// number of at least max as soon as the total reaches max. Like objectEnd
// it checks nothing but lengths, and stops at the end of the input.
func smallTotal(b []byte, max int) int {
	i, total := 0, 0
	for pending := uint64(1); pending > 0 && total < max; pending-- {
		if i >= len(b) || pending > uint64(len(b)-i) {
			return total
		}
		c := b[i]
		if t := tokens[c]; t.size != 0 {
			if int(t.size) > len(b)-i {
				return total
			}
			if c&0xe0 == 0xa0 { // fixstr
				total += int(c & 0x1f)
			}
			i += int(t.size)
			pending += uint64(t.kids)
			continue
		}
		fixed, count, items, ok := lead(c)
		if !ok || len(b)-i-1 < fixed {
			return total
		}
		var n uint64
		for _, d := range b[i+1 : i+1+count] {
			n = n<<8 | uint64(d)
		}
		switch {
		case items > 0:
			pending += items * n
		case n > uint64(len(b)-i-1-fixed): // past the end of the input
			return total
		default:
			if c >= 0xc4 && c <= 0xc6 || c >= 0xd9 && c <= 0xdb { // bin, str
				if n < ChunkSize {
					total += int(n)
				}
			}
			fixed += int(n)
		}
		i += 1 + fixed
	}
	return total
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
