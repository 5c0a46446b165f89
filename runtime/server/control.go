package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"slices"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/status"
)

// The extensions (docs/wire.md, "Extensions"), server side. A connection
// is extended once its first frame is a hello the server answers with a
// HelloAck (the reader answers it before it reads the next frame, so every
// answer after it is extended); a server built with Options.Legacy, and
// every connection whose first frame is something else, speaks the base
// protocol only and answers an id of the runtime's block 0xF0..0xFF as an
// unknown request type.
//
// On an extended connection:
//   - every error is an error frame (ipc.MsgError: code, message, details)
//     instead of the protocol's error response or a call's error field, and
//     never closes the connection;
//   - the runtime's own calls (controlMethods: Ping, Describe) are served.

// Features are the extension features this server speaks, in the order its
// HelloAck lists them (those the client also named).
var Features = []string{"errors", "status", "ready", "cancel", "meta", "ping", "describe", "mux"}

// controlMethods are the runtime's own calls, served on extended
// connections only, without the server's interceptors.
func controlMethods(s *Server) []Method {
	desc := describe(s.table)
	return []Method{
		Unary(UnaryCall[NoPayload, NoPayload]{
			Name: "Ping", Request: ipc.MsgPing, Response: ipc.MsgPong,
			Handle: func(context.Context, *NoPayload) (*NoPayload, error) { return nil, nil },
		}),
		Unary(UnaryCall[NoPayload, ipc.Description]{
			Name: "Describe", Request: ipc.MsgDescribe, Response: ipc.MsgDescribeResult,
			Handle: func(context.Context, *NoPayload) (*ipc.Description, error) { return desc, nil },
		}),
	}
}

// describe is the server's answer to Describe, computed once: the table's
// schema text (what the generated package embeds), its SHA-256, this
// runtime's version and its features.
func describe(t *Table) *ipc.Description {
	return &ipc.Description{Schema: t.Schema, SHA256: sha256.Sum256([]byte(t.Schema)),
		Runtime: ipc.RuntimeVersion, Features: Features}
}

// hello answers the connection's first frame, a hello (r), and makes the
// connection extended; a malformed hello is answered as a legacy server
// answers a request it cannot decode, and the connection stays legacy. It
// reports whether the reader goes on.
func (c *conn) hello(r *request) bool {
	var h ipc.Hello
	err := ipc.DecodePayload(r.body(), &h)
	seq := r.h.SeqNo
	r.decoded()
	c.mu.Lock()
	c.inBody = false
	c.mu.Unlock()
	c.release(r.drop())
	if err != nil {
		return c.answerError(nil, seq, &DecodeError{Method: "hello", Err: err}, nil)
	}
	ack := &ipc.HelloAck{Version: ipc.ExtVersion, Runtime: ipc.RuntimeVersion}
	for _, f := range Features {
		if slices.Contains(h.Features, f) {
			ack.Features = append(ack.Features, f)
		}
	}
	c.ext = true
	c.mux = slices.Contains(ack.Features, "mux")
	return c.write(ipc.MsgHelloAck, seq, ack, nil) == nil
}

// errorFrame is err as an extended connection's error frame: its code
// (status.CodeOf: the runtime's own errors carry theirs), its text and the
// details of a *status.Error in its chain.
func errorFrame(name string, err error) *ipc.Status {
	st := &ipc.Status{Code: uint32(status.CodeOf(err)), Message: ErrorText(name, err)}
	var se *status.Error
	if errors.As(err, &se) {
		st.Details = se.Details
	}
	return st
}

// The codes of the runtime's own errors.

// StatusCode is InvalidArgument: the request was malformed.
func (e *DecodeError) StatusCode() status.Code { return status.InvalidArgument }

// StatusCode is Internal: the handler built an answer over the schema's
// limits, which no client would accept.
func (e *LimitError) StatusCode() status.Code { return status.Internal }

func (e *panicError) StatusCode() status.Code      { return status.Internal }
func (t unknownType) StatusCode() status.Code      { return status.Unimplemented }
func (tooManyStreams) StatusCode() status.Code     { return status.ResourceExhausted }
func (tooManyConnStreams) StatusCode() status.Code { return status.ResourceExhausted }

// refusalFrame is the answer to a hello on a connection the server refuses
// (Authorize, MaxConns): an error frame with code and text, which the
// client's dial returns. Nil: the first frame was not a hello (or the
// server is legacy), and the refusal is what the base protocol does.
func refusalFrame(s *Server, h ipc.Header, code status.Code, text string) []byte {
	if h.MsgType != ipc.MsgHello || s.cfg.legacy {
		return nil
	}
	frame, err := ipc.AppendMsgFrame(nil, ipc.Header{MsgType: ipc.MsgError, SeqNo: h.SeqNo},
		&ipc.Status{Code: uint32(code), Message: text})
	if err != nil {
		return nil
	}
	return frame
}

// readFirstHeader reads the header of a refused connection's first frame
// and up to refuseBody bytes of its body, within refuseTimeout.
func readFirstHeader(s *Server, nc net.Conn) (ipc.Header, bool) {
	nc.SetDeadline(time.Now().Add(refuseTimeout))
	var hb [ipc.HeaderSize]byte
	if _, err := io.ReadFull(nc, hb[:]); err != nil {
		return ipc.Header{}, false
	}
	h, err := ipc.ParseHeader(hb[:], s.cfg.maxPayload)
	if err != nil {
		return ipc.Header{}, false
	}
	io.CopyN(io.Discard, nc, int64(min(h.Length, refuseBody)))
	return h, true
}

// refuseHello tells a client refused by Authorize why, if it said hello:
// an error frame PermissionDenied with the Authorize error's text. A legacy
// peer gets what it always got: the connection closes unanswered.
func (c *conn) refuseHello(err error) {
	if c.s.cfg.legacy {
		return
	}
	if h, ok := readFirstHeader(c.s, c.nc); ok {
		if frame := refusalFrame(c.s, h, status.PermissionDenied, "permission denied: "+err.Error()); frame != nil {
			c.nc.SetWriteDeadline(time.Now().Add(refuseTimeout))
			c.nc.Write(frame)
		}
	}
}
