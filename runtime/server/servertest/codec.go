package servertest

import (
	"time"

	"github.com/tinylib/msgp/msgp"
)

// The codecs below use msgp's primitives directly, as msgp's generated code
// does: maps keyed by short strings, unknown keys skipped.

// MarshalMsg implements msgp.Marshaler.
func (z *EchoRequest) MarshalMsg(b []byte) ([]byte, error) {
	b = msgp.AppendMapHeader(b, 6)
	b = msgp.AppendString(b, "id")
	b = msgp.AppendString(b, z.ID)
	b = msgp.AppendString(b, "n")
	b = msgp.AppendInt(b, z.N)
	b = msgp.AppendString(b, "sl")
	b = msgp.AppendInt64(b, int64(z.Sleep))
	b = msgp.AppendString(b, "ho")
	b = msgp.AppendBool(b, z.Honor)
	b = msgp.AppendString(b, "p")
	b = msgp.AppendBool(b, z.Panic)
	b = msgp.AppendString(b, "f")
	b = msgp.AppendString(b, z.Fail)
	return b, nil
}

// UnmarshalMsg implements msgp.Unmarshaler.
func (z *EchoRequest) UnmarshalMsg(b []byte) ([]byte, error) {
	return decodeMap(b, func(key []byte, b []byte) (o []byte, err error) {
		switch string(key) {
		case "id":
			z.ID, o, err = msgp.ReadStringBytes(b)
		case "n":
			z.N, o, err = msgp.ReadIntBytes(b)
		case "sl":
			var d int64
			d, o, err = msgp.ReadInt64Bytes(b)
			z.Sleep = time.Duration(d)
		case "ho":
			z.Honor, o, err = msgp.ReadBoolBytes(b)
		case "p":
			z.Panic, o, err = msgp.ReadBoolBytes(b)
		case "f":
			z.Fail, o, err = msgp.ReadStringBytes(b)
		default:
			o, err = msgp.Skip(b)
		}
		return o, err
	})
}

// MarshalMsg implements msgp.Marshaler.
func (z *EchoResponse) MarshalMsg(b []byte) ([]byte, error) {
	b = msgp.AppendMapHeader(b, 3)
	b = msgp.AppendString(b, "id")
	b = msgp.AppendString(b, z.ID)
	b = msgp.AppendString(b, "n")
	b = msgp.AppendInt(b, z.N)
	b = msgp.AppendString(b, "uid")
	b = msgp.AppendInt(b, z.UID)
	return b, nil
}

// UnmarshalMsg implements msgp.Unmarshaler.
func (z *EchoResponse) UnmarshalMsg(b []byte) ([]byte, error) {
	return decodeMap(b, func(key []byte, b []byte) (o []byte, err error) {
		switch string(key) {
		case "id":
			z.ID, o, err = msgp.ReadStringBytes(b)
		case "n":
			z.N, o, err = msgp.ReadIntBytes(b)
		case "uid":
			z.UID, o, err = msgp.ReadIntBytes(b)
		default:
			o, err = msgp.Skip(b)
		}
		return o, err
	})
}

// MarshalMsg implements msgp.Marshaler.
func (z *Status) MarshalMsg(b []byte) ([]byte, error) {
	b = msgp.AppendMapHeader(b, 1)
	b = msgp.AppendString(b, "err")
	return msgp.AppendString(b, z.Err), nil
}

// UnmarshalMsg implements msgp.Unmarshaler.
func (z *Status) UnmarshalMsg(b []byte) ([]byte, error) {
	return decodeMap(b, func(key []byte, b []byte) (o []byte, err error) {
		if string(key) == "err" {
			z.Err, o, err = msgp.ReadStringBytes(b)
			return o, err
		}
		return msgp.Skip(b)
	})
}

// MarshalMsg implements msgp.Marshaler.
func (z *TailRequest) MarshalMsg(b []byte) ([]byte, error) {
	b = msgp.AppendMapHeader(b, 2)
	b = msgp.AppendString(b, "n")
	b = msgp.AppendInt(b, z.N)
	b = msgp.AppendString(b, "f")
	return msgp.AppendBool(b, z.Follow), nil
}

// UnmarshalMsg implements msgp.Unmarshaler.
func (z *TailRequest) UnmarshalMsg(b []byte) ([]byte, error) {
	return decodeMap(b, func(key []byte, b []byte) (o []byte, err error) {
		switch string(key) {
		case "n":
			z.N, o, err = msgp.ReadIntBytes(b)
		case "f":
			z.Follow, o, err = msgp.ReadBoolBytes(b)
		default:
			o, err = msgp.Skip(b)
		}
		return o, err
	})
}

// MarshalMsg implements msgp.Marshaler.
func (z *TailFrame) MarshalMsg(b []byte) ([]byte, error) {
	b = msgp.AppendMapHeader(b, 2)
	b = msgp.AppendString(b, "i")
	b = msgp.AppendInt(b, z.I)
	b = msgp.AppendString(b, "eof")
	return msgp.AppendBool(b, z.EOF), nil
}

// UnmarshalMsg implements msgp.Unmarshaler.
func (z *TailFrame) UnmarshalMsg(b []byte) ([]byte, error) {
	return decodeMap(b, func(key []byte, b []byte) (o []byte, err error) {
		switch string(key) {
		case "i":
			z.I, o, err = msgp.ReadIntBytes(b)
		case "eof":
			z.EOF, o, err = msgp.ReadBoolBytes(b)
		default:
			o, err = msgp.Skip(b)
		}
		return o, err
	})
}

// decodeMap walks a msgpack map, calling field for each key.
func decodeMap(b []byte, field func(key []byte, b []byte) ([]byte, error)) ([]byte, error) {
	n, b, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		return b, err
	}
	for range n {
		var k []byte
		k, b, err = msgp.ReadMapKeyZC(b)
		if err != nil {
			return b, err
		}
		if b, err = field(k, b); err != nil {
			return b, err
		}
	}
	return b, nil
}
