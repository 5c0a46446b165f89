package msgpx

import "github.com/tinylib/msgp/msgp"

// Fast paths: msgp's readers with their most common encoding read without a
// call into msgp. Each returns exactly what the msgp function of the same
// name returns, for every input (FuzzFast checks it); anything but the
// common encoding goes to msgp.

// ReadMapKeyZC is msgp.ReadMapKeyZC, with a fixstr key (up to 31 bytes, the
// keys every generated struct writes) read inline.
func ReadMapKeyZC(b []byte) ([]byte, []byte, error) {
	if len(b) > 0 && b[0]&0xe0 == 0xa0 { // fixstr: 101xxxxx
		if n := int(b[0] & 0x1f); n < len(b) {
			return b[1 : 1+n], b[1+n:], nil
		}
	}
	return msgp.ReadMapKeyZC(b)
}

// ReadBoolBytes is msgp.ReadBoolBytes.
func ReadBoolBytes(b []byte) (bool, []byte, error) {
	if len(b) > 0 && b[0]&0xfe == 0xc2 { // false 0xc2, true 0xc3
		return b[0] == 0xc3, b[1:], nil
	}
	return msgp.ReadBoolBytes(b)
}
