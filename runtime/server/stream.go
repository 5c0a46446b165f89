package server

import (
	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// Stream is the server side of one streaming call. Generated typed senders
// (e.g. mgmt.LogsSender) wrap it.
type Stream struct {
	// fields private to the runtime
}

// Send encodes m as one frame of type t. last marks the schema's last frame
// (e.g. Logs with EOF true): after it the stream is over, further sends fail,
// and the connection returns to request/response mode. Send fails once the
// client has gone away or the server is shutting down, and blocks at most the
// server's stream send timeout for a slow reader.
func (s *Stream) Send(t ipc.MsgType, m msgp.Marshaler, last bool) error {
	panic("runtime/server: Stream.Send not implemented yet")
}
