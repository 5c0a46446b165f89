package ipc

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/tinylib/msgp/msgp"
)

// ErrTrailingBytes reports payload bytes left over after a complete value.
var ErrTrailingBytes = errors.New("ipc: trailing bytes after payload")

// AppendPayload appends m's MessagePack encoding to dst (m nil: nothing),
// reusing dst's capacity.
func AppendPayload(dst []byte, m msgp.Marshaler) ([]byte, error) {
	if m == nil {
		return dst, nil
	}
	return m.MarshalMsg(dst)
}

// AppendMsgFrame appends a whole frame carrying m's encoding to dst: the
// header is reserved, m is encoded in place and the length patched, so the
// payload is never copied. With enough capacity in dst it allocates nothing.
func AppendMsgFrame(dst []byte, h Header, m msgp.Marshaler) ([]byte, error) {
	start := len(dst)
	h.Length = 0
	dst = AppendHeader(dst, h)
	out, err := AppendPayload(dst, m)
	if err != nil {
		return dst[:start], err
	}
	n := len(out) - start - HeaderSize
	if uint64(n) > uint64(MaxPayloadSize) {
		return out[:start], fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, n, MaxPayloadSize)
	}
	binary.BigEndian.PutUint32(out[start+offLength:], uint32(n))
	return out, nil
}

// DecodePayload decodes body into u. A zero-length body leaves u as it is
// (the zero value for a fresh value); bytes left after one complete value are
// an error wrapping ErrTrailingBytes.
func DecodePayload(body []byte, u msgp.Unmarshaler) error {
	if len(body) == 0 {
		return nil
	}
	rest, err := u.UnmarshalMsg(body)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%w: %d bytes", ErrTrailingBytes, len(rest))
	}
	return nil
}
