package msgpx

import "github.com/tinylib/msgp/msgp"

// ReadArrayHeaderBytes is msgp.ReadArrayHeaderBytes reading nil as 0 items
// and refusing, before the caller allocates, a count the input cannot hold
// (every item takes at least one byte).
func ReadArrayHeaderBytes(b []byte) (uint32, []byte, error) {
	if len(b) > 0 && b[0]&0xf0 == 0x90 { // fixarray: 1001xxxx
		if n := uint32(b[0] & 0x0f); uint64(n) < uint64(len(b)) {
			return n, b[1:], nil
		}
		return 0, b, msgp.ErrShortBytes
	}
	if msgp.IsNil(b) {
		return 0, b[1:], nil
	}
	sz, o, err := msgp.ReadArrayHeaderBytes(b)
	if err == nil && uint64(sz) > uint64(len(o)) {
		return 0, b, msgp.ErrShortBytes
	}
	return sz, o, err
}

// ReadMapHeaderBytes is msgp.ReadMapHeaderBytes reading nil as 0 pairs and
// refusing, before the caller allocates, a count the input cannot hold
// (every pair takes at least two bytes).
func ReadMapHeaderBytes(b []byte) (uint32, []byte, error) {
	if len(b) > 0 && b[0]&0xf0 == 0x80 { // fixmap: 1000xxxx
		if n := uint32(b[0] & 0x0f); 2*uint64(n) < uint64(len(b)) {
			return n, b[1:], nil
		}
		return 0, b, msgp.ErrShortBytes
	}
	if msgp.IsNil(b) {
		return 0, b[1:], nil
	}
	sz, o, err := msgp.ReadMapHeaderBytes(b)
	if err == nil && 2*uint64(sz) > uint64(len(o)) {
		return 0, b, msgp.ErrShortBytes
	}
	return sz, o, err
}

// ReadBytesHeader is msgp.ReadBytesHeader reading nil as 0 bytes.
func ReadBytesHeader(b []byte) (uint32, []byte, error) {
	if msgp.IsNil(b) {
		return 0, b[1:], nil
	}
	return msgp.ReadBytesHeader(b)
}

// ReadBytesBytes is msgp.ReadBytesBytes reading nil as nil.
func ReadBytesBytes(b, scratch []byte) ([]byte, []byte, error) {
	if msgp.IsNil(b) {
		return nil, b[1:], nil
	}
	return msgp.ReadBytesBytes(b, scratch)
}

// ReadArrayHeader is (*msgp.Reader).ReadArrayHeader reading nil as 0 items.
func ReadArrayHeader(dc *msgp.Reader) (uint32, error) {
	if dc.IsNil() {
		return 0, dc.ReadNil()
	}
	return dc.ReadArrayHeader()
}

// ReadMapHeader is (*msgp.Reader).ReadMapHeader reading nil as 0 pairs.
func ReadMapHeader(dc *msgp.Reader) (uint32, error) {
	if dc.IsNil() {
		return 0, dc.ReadNil()
	}
	return dc.ReadMapHeader()
}

// ReadBytesLimit is (*msgp.Reader).ReadBytesLimit reading nil as nil.
func ReadBytesLimit(dc *msgp.Reader, scratch []byte, n int64) ([]byte, error) {
	if dc.IsNil() {
		return nil, dc.ReadNil()
	}
	return dc.ReadBytesLimit(scratch, n)
}

// ReadBytes is (*msgp.Reader).ReadBytes reading nil as nil.
func ReadBytes(dc *msgp.Reader, scratch []byte) ([]byte, error) {
	if dc.IsNil() {
		return nil, dc.ReadNil()
	}
	return dc.ReadBytes(scratch)
}
