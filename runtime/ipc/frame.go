// Package ipc is the framing layer of the cliwrap management wire format: a
// fixed 17-byte header followed by a MessagePack payload, on a byte stream.
//
// The header, byte by byte:
//
//	offset size field
//	0      1    magic0   0xC1
//	1      1    magic1   0xD9
//	2      1    version  0x01
//	3      1    msgtype  message id
//	4      1    flags    0x01 ack-required, 0x02 is-replay, 0x04 file-ref
//	5      8    seq      big-endian uint64
//	13     4    length   big-endian uint32 payload length
//
// Bad magic, an unknown version and an oversized length are framing errors:
// the stream cannot be resynchronised and the connection must be closed.
package ipc

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Header constants of the wire format.
const (
	Magic0          byte = 0xC1
	Magic1          byte = 0xD9
	ProtocolVersion byte = 0x01

	// HeaderSize is the fixed size of a frame header in bytes.
	HeaderSize = 17

	// MaxPayloadSize is the largest payload the protocol allows (16 MiB).
	MaxPayloadSize uint32 = 16 << 20
)

// Byte offsets of the header fields.
const (
	offMagic0  = 0
	offMagic1  = 1
	offVersion = 2
	offMsgType = 3
	offFlags   = 4
	offSeq     = 5
	offLength  = 13
)

// MsgType is a message id (the header's msgtype byte).
type MsgType uint8

// String formats t as two lowercase hex digits, e.g. "0xa3", the form the
// protocol's error texts use.
func (t MsgType) String() string { return fmt.Sprintf("0x%02x", uint8(t)) }

// Flags is the header's flags bitmask. The management protocol sends 0 and
// ignores flags on receipt.
type Flags uint8

// Header flags.
const (
	FlagAckRequired Flags = 0x01
	FlagIsReplay    Flags = 0x02
	FlagFileRef     Flags = 0x04
)

// Has reports whether every bit of x is set in f.
func (f Flags) Has(x Flags) bool { return f&x == x }

// Header is a decoded frame header.
type Header struct {
	MsgType MsgType
	Flags   Flags
	SeqNo   uint64
	Length  uint32 // payload length in bytes
}

// Sentinel errors; match them with errors.Is.
var (
	ErrInvalidMagic       = errors.New("ipc: invalid frame magic")
	ErrUnsupportedVersion = errors.New("ipc: unsupported protocol version")
	ErrFrameTooLarge      = errors.New("ipc: frame payload too large")
	ErrLengthMismatch     = errors.New("ipc: header length does not match payload length")
)

// AppendHeader appends the 17 header bytes of h to dst.
func AppendHeader(dst []byte, h Header) []byte {
	dst = append(dst, Magic0, Magic1, ProtocolVersion, byte(h.MsgType), byte(h.Flags))
	dst = binary.BigEndian.AppendUint64(dst, h.SeqNo)
	return binary.BigEndian.AppendUint32(dst, h.Length)
}

// ParseHeader decodes the first HeaderSize bytes of b. It checks magic,
// version and that Length does not exceed maxPayload (0 means MaxPayloadSize).
// b must hold at least HeaderSize bytes.
func ParseHeader(b []byte, maxPayload uint32) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("ipc: short header: %d bytes", len(b))
	}
	if b[offMagic0] != Magic0 || b[offMagic1] != Magic1 {
		return Header{}, fmt.Errorf("%w: % x", ErrInvalidMagic, b[offMagic0:offVersion])
	}
	if b[offVersion] != ProtocolVersion {
		return Header{}, fmt.Errorf("%w: %d", ErrUnsupportedVersion, b[offVersion])
	}
	h := Header{
		MsgType: MsgType(b[offMsgType]),
		Flags:   Flags(b[offFlags]),
		SeqNo:   binary.BigEndian.Uint64(b[offSeq:]),
		Length:  binary.BigEndian.Uint32(b[offLength:]),
	}
	if h.Length > limit(maxPayload) {
		return h, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, h.Length, limit(maxPayload))
	}
	return h, nil
}

// AppendFrame appends a whole frame (header with h.Length set to
// len(payload), then payload) to dst. It allocates only when dst lacks
// capacity.
func AppendFrame(dst []byte, h Header, payload []byte) ([]byte, error) {
	if uint64(len(payload)) > uint64(MaxPayloadSize) {
		return dst, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, len(payload), MaxPayloadSize)
	}
	h.Length = uint32(len(payload))
	dst = AppendHeader(dst, h)
	return append(dst, payload...), nil
}

func limit(maxPayload uint32) uint32 {
	if maxPayload == 0 || maxPayload > MaxPayloadSize {
		return MaxPayloadSize
	}
	return maxPayload
}
