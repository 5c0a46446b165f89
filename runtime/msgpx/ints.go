package msgpx

import (
	"encoding/binary"
	"time"

	"github.com/tinylib/msgp/msgp"
)

// Integer fast paths: msgp's integer readers with every integer encoding
// (positive and negative fixint, uint8..uint64, int8..int64) read in one
// call, without msgp, when the value fits the result type. Anything else
// (a short input, a value out of range, another type) goes to the msgp
// reader of the same name, so that its error and rest are msgp's own;
// FuzzFast checks that every result equals msgp's.

// ReadIntBytes is msgp.ReadIntBytes.
func ReadIntBytes(b []byte) (int, []byte, error) { return readSigned(b, msgp.ReadIntBytes) }

// ReadInt8Bytes is msgp.ReadInt8Bytes.
func ReadInt8Bytes(b []byte) (int8, []byte, error) { return readSigned(b, msgp.ReadInt8Bytes) }

// ReadInt16Bytes is msgp.ReadInt16Bytes.
func ReadInt16Bytes(b []byte) (int16, []byte, error) { return readSigned(b, msgp.ReadInt16Bytes) }

// ReadInt32Bytes is msgp.ReadInt32Bytes.
func ReadInt32Bytes(b []byte) (int32, []byte, error) { return readSigned(b, msgp.ReadInt32Bytes) }

// ReadInt64Bytes is msgp.ReadInt64Bytes.
func ReadInt64Bytes(b []byte) (int64, []byte, error) { return readSigned(b, msgp.ReadInt64Bytes) }

// ReadDurationBytes is msgp.ReadDurationBytes.
func ReadDurationBytes(b []byte) (time.Duration, []byte, error) {
	return readSigned(b, msgp.ReadDurationBytes)
}

// ReadUintBytes is msgp.ReadUintBytes.
func ReadUintBytes(b []byte) (uint, []byte, error) { return readUnsigned(b, msgp.ReadUintBytes) }

// ReadUint8Bytes is msgp.ReadUint8Bytes.
func ReadUint8Bytes(b []byte) (uint8, []byte, error) { return readUnsigned(b, msgp.ReadUint8Bytes) }

// ReadUint16Bytes is msgp.ReadUint16Bytes.
func ReadUint16Bytes(b []byte) (uint16, []byte, error) {
	return readUnsigned(b, msgp.ReadUint16Bytes)
}

// ReadUint32Bytes is msgp.ReadUint32Bytes.
func ReadUint32Bytes(b []byte) (uint32, []byte, error) {
	return readUnsigned(b, msgp.ReadUint32Bytes)
}

// ReadUint64Bytes is msgp.ReadUint64Bytes.
func ReadUint64Bytes(b []byte) (uint64, []byte, error) {
	return readUnsigned(b, msgp.ReadUint64Bytes)
}

// readSigned reads a signed integer of type T, or returns what msgp's
// reader slow returns when b does not start with an integer that fits T.
func readSigned[T int | int8 | int16 | int32 | int64 | time.Duration](b []byte, slow func([]byte) (T, []byte, error)) (T, []byte, error) {
	if len(b) > 0 {
		c := b[0]
		if c < 0x80 || c >= 0xe0 { // positive or negative fixint: fits every T
			return T(int8(c)), b[1:], nil
		}
		if x, n, ok := readFixed(b); ok {
			v := int64(x)
			switch {
			case c >= 0xd0: // int8..int64: sign-extend
				shift := 72 - 8*n // 64 - 8*(n-1)
				v = int64(x<<shift) >> shift
			case v < 0: // a uint64 above math.MaxInt64
				return slow(b)
			}
			if int64(T(v)) == v {
				return T(v), b[n:], nil
			}
		}
	}
	return slow(b)
}

// readUnsigned reads an unsigned integer of type T, or returns what
// msgp's reader slow returns when b does not start with an integer of 0 or
// more that fits T.
func readUnsigned[T uint | uint8 | uint16 | uint32 | uint64](b []byte, slow func([]byte) (T, []byte, error)) (T, []byte, error) {
	if len(b) > 0 {
		c := b[0]
		if c < 0x80 { // positive fixint
			return T(c), b[1:], nil
		}
		if x, n, ok := readFixed(b); ok {
			if c >= 0xd0 { // int8..int64: only values of 0 or more
				shift := 72 - 8*n
				if int64(x<<shift) < 0 {
					return slow(b)
				}
			}
			if uint64(T(x)) == x {
				return T(x), b[n:], nil
			}
		}
	}
	return slow(b)
}

// readFixed reads, when b starts with a uint8..uint64 or int8..int64 (lead
// bytes 0xcc..0xd3), its big-endian value as unsigned and n, the bytes it
// takes with the lead byte; ok is false for any other lead byte and a short
// input. b is not empty.
func readFixed(b []byte) (x uint64, n int, ok bool) {
	size := 1 << (b[0] & 3) // 0xcc..0xcf: uint8..uint64; 0xd0..0xd3: int8..int64
	if b[0]-0xcc > 0xd3-0xcc || len(b) <= size {
		return 0, 0, false
	}
	switch size {
	case 1:
		x = uint64(b[1])
	case 2:
		x = uint64(binary.BigEndian.Uint16(b[1:]))
	case 4:
		x = uint64(binary.BigEndian.Uint32(b[1:]))
	default:
		x = binary.BigEndian.Uint64(b[1:])
	}
	return x, 1 + size, true
}
