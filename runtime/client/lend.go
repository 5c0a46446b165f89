package client

import "github.com/mgmtgen/mgmtgen/runtime/msgpx"

// Decoding in place: a typed stream whose StreamCall names its frames' byte
// slice (Bytes, BytesKey: a chunk of output, most of a frame) has RecvInto
// read a frame into the buffer that slice will alias, and point it at the
// value's bytes before decoding, so the decoder's copy of them is a copy
// onto themselves, which copy skips: a 64 KiB chunk costs no memmove of its
// own (about 1 µs, a twentieth of the frame).
//
// The contract stays RecvInto's: p's byte slice is reused, and the stream
// keeps nothing it hands out for its own use. The buffer a slice aliases
// (lent) is the caller's from then on; the stream remembers it only to
// recognise it when RecvInto is given it back (the slice exactly as it was
// handed out, after the generated Reset), and only then reads the next
// frame into it. Given anything else, the stream forgets it and reads into
// its own buffer, as before.
//
// What is lent: the buffer the frame was read into, when the slice was
// given back (the caller holds all of it already), or else a buffer of the
// stream's own or the frame's (queued) when the slice has not the room the
// value needs (the decoder would allocate) and the buffer holds little but
// the value: it is at least lendMin, the rest of the frame (its other
// fields, as a peer may pad them) at most lendSlack, and the buffer's
// spare capacity at most a quarter of the frame (what the allocator's
// rounding adds to a fresh buffer; a buffer of the stream's grown for
// larger frames is not lent). So a lent buffer keeps at most lendSlack
// plus that rounding alive beyond the value, however a peer pads its
// frames. Anything else is decoded as before, copied.
const (
	lendMin   = msgpx.ChunkSize // smaller values take a share of the decoder's arena
	lendSlack = 1 << 10
)

// lentBack reports whether b is the byte slice last lent, as handed out.
func (s *Stream) lentBack(b []byte) bool {
	return cap(b) > 0 && cap(b) == cap(s.lent)-s.lentOff && &b[:1][0] == &s.lent[s.lentOff : s.lentOff+1][0]
}

// place points *dst at the bytes of key's value in body (whose buffer the
// frame was read into) when that buffer may be lent (see above), and
// lends it; back: *dst was given back, and lent is the buffer it aliased.
// A body read into lent that is not lent again leaves *dst nil: the value
// must not be copied within the buffer it is decoded from.
func (s *Stream) place(dst *[]byte, body []byte, key string, back bool, lent []byte) {
	inLent := back && sameArray(body, lent)
	off, n, ok := msgpx.FindBin(body, key)
	switch {
	case ok && inLent:
	case ok && (back || n > cap(*dst)) && n >= lendMin && len(body)-n <= lendSlack && cap(body)-len(body) <= len(body)/4:
	default:
		if inLent {
			*dst = nil
		}
		return
	}
	*dst = body[off:off:cap(body)]
	s.lent, s.lentOff = body[:cap(body)], off
	if sameArray(s.buf, body) {
		s.buf = nil // lent: the next frame is read elsewhere
	}
}

// sameArray reports whether a and b start at the same byte.
func sameArray(a, b []byte) bool {
	return cap(a) > 0 && cap(b) > 0 && &a[:1][0] == &b[:1][0]
}
