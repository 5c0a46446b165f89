package msgpx

import "github.com/tinylib/msgp/msgp"

// FindBin finds the first value of key in b, a msgpack map as generated
// types encode a message: ok when it is bin, with off the offset of its
// bytes in b and n their count (b holds them all). It checks nothing else
// of the message (the decoder does): the client uses it to place a large
// bytes value where decoding it copies nothing (runtime/client, lend.go).
func FindBin(b []byte, key string) (off, n int, ok bool) {
	pairs, o, err := ReadMapHeaderBytes(b)
	if err != nil {
		return 0, 0, false
	}
	for range pairs {
		var k []byte
		if k, o, err = ReadMapKeyZC(o); err != nil {
			return 0, 0, false
		}
		if string(k) == key {
			if len(o) == 0 || msgp.NextType(o) != msgp.BinType {
				return 0, 0, false
			}
			size, rest, err := msgp.ReadBytesHeader(o)
			if err != nil || uint64(size) > uint64(len(rest)) {
				return 0, 0, false
			}
			return len(b) - len(rest), int(size), true
		}
		if o, err = msgp.Skip(o); err != nil {
			return 0, 0, false
		}
	}
	return 0, 0, false
}
