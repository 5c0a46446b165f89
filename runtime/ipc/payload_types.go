package ipc

import "github.com/tinylib/msgp/msgp"

// The payload types generic glue is written with, defined once here and
// aliased by runtime/server and runtime/client (server.Encodable,
// client.NoPayload, ...), which generated code names.

// Encodable is the pointer type of a payload that encodes itself: a
// client's request, a server's response or stream frame.
type Encodable[T any] interface {
	*T
	msgp.Marshaler
}

// Decodable is the pointer type of a payload that decodes itself: a
// server's request, a client's response or stream frame.
type Decodable[T any] interface {
	*T
	msgp.Unmarshaler
}

// NoPayload is the type of a message without a payload. It encodes to
// nothing (an empty payload) and decodes an empty payload or exactly one
// MessagePack value (a reflection codec's nil), which it ignores.
type NoPayload struct{}

// MarshalMsg appends nothing.
func (*NoPayload) MarshalMsg(b []byte) ([]byte, error) { return b, nil }

// UnmarshalMsg skips one MessagePack value.
func (*NoPayload) UnmarshalMsg(b []byte) ([]byte, error) { return msgp.Skip(b) }
