package ipc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/msgpx"
)

// The runtime's control messages (docs/wire.md, "Extensions"). Their ids,
// 0xF0..0xFF, belong to the runtime: no schema may use them, and a
// connection that has not negotiated the extensions never carries one from
// us. Every payload is a msgpack map keyed by short strings, like the
// protocol's own payloads; decoders skip unknown keys.
const (
	MsgHello          MsgType = 0xF0 // client -> server: Hello, the connection's first frame
	MsgHelloAck       MsgType = 0xF1 // server -> client: HelloAck, same seq as the hello
	MsgCallHeader     MsgType = 0xF2 // client -> server: CallHeader, right before the request it describes (same seq)
	MsgError          MsgType = 0xF3 // server -> client: Status, the failure of the call with that seq
	MsgCancel         MsgType = 0xF4 // client -> server: no payload, cancels the call with that seq
	MsgStreamEnd      MsgType = 0xF5 // server -> client: Status, the end of the stream with that seq
	MsgReady          MsgType = 0xF6 // server -> client: no payload, the stream with that seq is live
	MsgDescribe       MsgType = 0xF7 // client -> server: no payload
	MsgDescribeResult MsgType = 0xF8 // server -> client: the server's description
	MsgPing           MsgType = 0xF9 // client -> server: no payload
	MsgPong           MsgType = 0xFA // server -> client: no payload
	MsgStreamCredit   MsgType = 0xFB // client -> server: StreamCredit, more window for the mux stream with that seq

	// ReservedMin is the first id of the runtime's block (it ends at 0xFF).
	ReservedMin MsgType = 0xF0
)

// IsReserved reports whether t is in the runtime's block 0xF0..0xFF.
func IsReserved(t MsgType) bool { return t >= ReservedMin }

// ExtVersion is the version of the extensions this runtime speaks.
const ExtVersion = 1

// RuntimeVersion names this runtime in a HelloAck (and a description).
const RuntimeVersion = "mgmtgen-runtime/1"

// Bounds of the control payloads, enforced by their decoders.
const (
	MaxFeatures       = 32      // names in a hello or its ack
	MaxFeatureLen     = 32      // bytes per feature name
	MaxMetadataPairs  = 64      // pairs in a CallHeader's metadata
	MaxMetadataBytes  = 4 << 10 // bytes of all keys and values of a CallHeader's metadata
	MaxRuntimeNameLen = 256     // bytes of HelloAck.Runtime
)

// ErrControl reports a control payload that cannot be decoded or breaks
// one of the bounds above.
var ErrControl = errors.New("ipc: malformed control payload")

func controlErr(what string, err error) error {
	if err == nil {
		return fmt.Errorf("%w: %s", ErrControl, what)
	}
	return fmt.Errorf("%w: %s: %v", ErrControl, what, err)
}

// Hello opens the extensions: {"v": version, "f": [feature, ...]}.
type Hello struct {
	Version  uint32
	Features []string
}

// HelloAck answers a Hello: {"v": version, "f": [features both speak],
// "rt": the server runtime's version}.
type HelloAck struct {
	Version  uint32
	Features []string
	Runtime  string
}

// CallHeader is the envelope of one call: {"t": relative timeout in
// nanoseconds (omitted: none), "md": {key: value} (omitted: empty)}.
type CallHeader struct {
	Timeout  int64 // nanoseconds, > 0; 0: no deadline
	Metadata map[string]string
}

// Status is the payload of an error frame and of a stream's end:
// {"c": code, "m": message, "d": details (bin, omitted when empty)}.
// Code 0 on a stream end means complete.
type Status struct {
	Code    uint32
	Message string
	Details []byte
}

// StreamCredit grants a mux stream's sender more window: {"f": frames,
// "b": bytes}, both added to what the sender may have outstanding (sent
// and not yet granted back). Either may be omitted (0).
type StreamCredit struct {
	Frames uint32
	Bytes  uint64
}

// MarshalMsg implements msgp.Marshaler. Both fields are always written.
func (sc *StreamCredit) MarshalMsg(b []byte) ([]byte, error) {
	b = msgp.AppendMapHeader(b, 2)
	b = msgp.AppendString(b, "f")
	b = msgp.AppendUint32(b, sc.Frames)
	b = msgp.AppendString(b, "b")
	return msgp.AppendUint64(b, sc.Bytes), nil
}

// UnmarshalMsg implements msgp.Unmarshaler.
func (sc *StreamCredit) UnmarshalMsg(b []byte) ([]byte, error) {
	*sc = StreamCredit{}
	return decodeMap(b, "stream credit", func(key string, b []byte) ([]byte, error) {
		var err error
		switch key {
		case "f":
			sc.Frames, b, err = msgp.ReadUint32Bytes(b)
		case "b":
			sc.Bytes, b, err = msgp.ReadUint64Bytes(b)
		default:
			b, err = msgp.Skip(b)
		}
		return b, err
	})
}

// AppendStreamCredit appends a whole StreamCredit frame for seq to dst.
func AppendStreamCredit(dst []byte, seq uint64, frames uint32, bytes uint64) []byte {
	start := len(dst)
	dst = AppendHeader(dst, Header{MsgType: MsgStreamCredit, SeqNo: seq})
	sc := StreamCredit{Frames: frames, Bytes: bytes}
	dst, _ = sc.MarshalMsg(dst)
	binary.BigEndian.PutUint32(dst[start+offLength:], uint32(len(dst)-start-HeaderSize))
	return dst
}

// MarshalMsg implements msgp.Marshaler.
func (h *Hello) MarshalMsg(b []byte) ([]byte, error) {
	b = msgp.AppendMapHeader(b, 2)
	b = msgp.AppendString(b, "v")
	b = msgp.AppendUint32(b, h.Version)
	b = msgp.AppendString(b, "f")
	return appendFeatures(b, h.Features), nil
}

// UnmarshalMsg implements msgp.Unmarshaler.
func (h *Hello) UnmarshalMsg(b []byte) ([]byte, error) {
	*h = Hello{}
	return decodeMap(b, "hello", func(key string, b []byte) ([]byte, error) {
		var err error
		switch key {
		case "v":
			h.Version, b, err = msgp.ReadUint32Bytes(b)
		case "f":
			h.Features, b, err = readFeatures(b)
		default:
			b, err = msgp.Skip(b)
		}
		return b, err
	})
}

// MarshalMsg implements msgp.Marshaler.
func (a *HelloAck) MarshalMsg(b []byte) ([]byte, error) {
	b = msgp.AppendMapHeader(b, 3)
	b = msgp.AppendString(b, "v")
	b = msgp.AppendUint32(b, a.Version)
	b = msgp.AppendString(b, "f")
	b = appendFeatures(b, a.Features)
	b = msgp.AppendString(b, "rt")
	return msgp.AppendString(b, a.Runtime), nil
}

// UnmarshalMsg implements msgp.Unmarshaler.
func (a *HelloAck) UnmarshalMsg(b []byte) ([]byte, error) {
	*a = HelloAck{}
	return decodeMap(b, "hello ack", func(key string, b []byte) ([]byte, error) {
		var err error
		switch key {
		case "v":
			a.Version, b, err = msgp.ReadUint32Bytes(b)
		case "f":
			a.Features, b, err = readFeatures(b)
		case "rt":
			a.Runtime, b, err = msgpx.ReadStringBytes(b, MaxRuntimeNameLen)
		default:
			b, err = msgp.Skip(b)
		}
		return b, err
	})
}

// MarshalMsg implements msgp.Marshaler. Metadata keys are written sorted,
// so the same header always has the same bytes.
func (h *CallHeader) MarshalMsg(b []byte) ([]byte, error) {
	n := uint32(0)
	if h.Timeout > 0 {
		n++
	}
	if len(h.Metadata) > 0 {
		n++
	}
	b = msgp.AppendMapHeader(b, n)
	if h.Timeout > 0 {
		b = msgp.AppendString(b, "t")
		b = msgp.AppendInt64(b, h.Timeout)
	}
	if len(h.Metadata) > 0 {
		b = msgp.AppendString(b, "md")
		b = msgp.AppendMapHeader(b, uint32(len(h.Metadata)))
		keys := make([]string, 0, 8) // on the stack for a few pairs
		for k := range h.Metadata {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			b = msgp.AppendString(b, k)
			b = msgp.AppendString(b, h.Metadata[k])
		}
	}
	return b, nil
}

// AppendFrame appends h as a whole CallHeader frame with seq to dst: the
// allocation-free form of AppendMsgFrame(dst, Header{MsgType:
// MsgCallHeader, SeqNo: seq}, h) that a client uses on every call that
// has a deadline. h's metadata must be within CheckMetadata's bounds (so
// the frame is far below MaxPayloadSize).
func (h *CallHeader) AppendFrame(dst []byte, seq uint64) []byte {
	start := len(dst)
	dst = AppendHeader(dst, Header{MsgType: MsgCallHeader, SeqNo: seq})
	dst, _ = h.MarshalMsg(dst)
	binary.BigEndian.PutUint32(dst[start+offLength:], uint32(len(dst)-start-HeaderSize))
	return dst
}

// UnmarshalMsg implements msgp.Unmarshaler. It refuses a negative
// timeout and metadata over MaxMetadataPairs or MaxMetadataBytes.
func (h *CallHeader) UnmarshalMsg(b []byte) ([]byte, error) {
	*h = CallHeader{}
	return decodeMap(b, "call header", func(key string, b []byte) ([]byte, error) {
		var err error
		switch key {
		case "t":
			h.Timeout, b, err = msgp.ReadInt64Bytes(b)
			if err == nil && h.Timeout < 0 {
				err = errors.New("negative timeout")
			}
		case "md":
			h.Metadata, b, err = readMetadata(b)
		default:
			b, err = msgp.Skip(b)
		}
		return b, err
	})
}

// CheckMetadata reports metadata over MaxMetadataPairs or MaxMetadataBytes,
// which no server accepts.
func CheckMetadata(md map[string]string) error {
	if len(md) > MaxMetadataPairs {
		return fmt.Errorf("metadata has %d pairs, over the limit %d", len(md), MaxMetadataPairs)
	}
	n := 0
	for k, v := range md {
		n += len(k) + len(v)
	}
	if n > MaxMetadataBytes {
		return fmt.Errorf("metadata has %d bytes, over the limit %d", n, MaxMetadataBytes)
	}
	return nil
}

// MarshalMsg implements msgp.Marshaler.
func (s *Status) MarshalMsg(b []byte) ([]byte, error) {
	n := uint32(2)
	if len(s.Details) > 0 {
		n++
	}
	b = msgp.AppendMapHeader(b, n)
	b = msgp.AppendString(b, "c")
	b = msgp.AppendUint32(b, s.Code)
	b = msgp.AppendString(b, "m")
	b = msgp.AppendString(b, s.Message)
	if len(s.Details) > 0 {
		b = msgp.AppendString(b, "d")
		b = msgp.AppendBytes(b, s.Details)
	}
	return b, nil
}

// UnmarshalMsg implements msgp.Unmarshaler; Details are copied.
func (s *Status) UnmarshalMsg(b []byte) ([]byte, error) {
	*s = Status{}
	return decodeMap(b, "status", func(key string, b []byte) ([]byte, error) {
		var err error
		switch key {
		case "c":
			s.Code, b, err = msgp.ReadUint32Bytes(b)
		case "m":
			s.Message, b, err = msgp.ReadStringBytes(b)
		case "d":
			s.Details, b, err = msgpx.ReadBytesBytes(b, nil)
			if len(s.Details) == 0 {
				s.Details = nil // as if omitted
			}
		default:
			b, err = msgp.Skip(b)
		}
		return b, err
	})
}

// decodeMap decodes a msgpack map (nil: empty) key by key with field,
// wrapping every failure in ErrControl.
func decodeMap(b []byte, what string, field func(key string, b []byte) ([]byte, error)) ([]byte, error) {
	n, b, err := msgpx.ReadMapHeaderBytes(b)
	if err != nil {
		return b, controlErr(what, err)
	}
	for range n {
		var key []byte
		key, b, err = msgp.ReadMapKeyZC(b)
		if err != nil {
			return b, controlErr(what, err)
		}
		if b, err = field(string(key), b); err != nil {
			return b, controlErr(what+" field "+fmt.Sprintf("%q", key), err)
		}
	}
	return b, nil
}

func appendFeatures(b []byte, fs []string) []byte {
	b = msgp.AppendArrayHeader(b, uint32(len(fs)))
	for _, f := range fs {
		b = msgp.AppendString(b, f)
	}
	return b
}

func readFeatures(b []byte) ([]string, []byte, error) {
	n, b, err := msgpx.ReadArrayHeaderBytes(b)
	if err != nil {
		return nil, b, err
	}
	if n > MaxFeatures {
		return nil, b, fmt.Errorf("%d features, over the limit %d", n, MaxFeatures)
	}
	var fs []string
	for range n {
		var f string
		if f, b, err = msgpx.ReadStringBytes(b, MaxFeatureLen); err != nil {
			return nil, b, err
		}
		fs = append(fs, f)
	}
	return fs, b, nil
}

func readMetadata(b []byte) (map[string]string, []byte, error) {
	n, b, err := msgpx.ReadMapHeaderBytes(b)
	if err != nil {
		return nil, b, err
	}
	if n > MaxMetadataPairs {
		return nil, b, fmt.Errorf("metadata has %d pairs, over the limit %d", n, MaxMetadataPairs)
	}
	if n == 0 {
		return nil, b, nil
	}
	md := make(map[string]string, n)
	total := 0
	for range n {
		var k, v string
		if k, b, err = msgpx.ReadStringBytes(b, MaxMetadataBytes); err != nil {
			return nil, b, err
		}
		if v, b, err = msgpx.ReadStringBytes(b, MaxMetadataBytes); err != nil {
			return nil, b, err
		}
		if total += len(k) + len(v); total > MaxMetadataBytes {
			return nil, b, fmt.Errorf("metadata over the limit of %d bytes", MaxMetadataBytes)
		}
		md[k] = v
	}
	return md, b, nil
}
