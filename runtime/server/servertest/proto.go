// Package servertest is a small hand-written protocol for testing the
// runtime: payload types serialized with msgp's primitives and a Table
// written the way generated code writes it. Tests of runtime/server and
// runtime/client, and their benchmarks, use it.
package servertest

import (
	"context"
	"errors"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server"
)

// Message ids of the test protocol.
const (
	MsgEcho         ipc.MsgType = 0xA0 // EchoRequest -> EchoResponse
	MsgEchoResponse ipc.MsgType = 0xA1
	MsgList         ipc.MsgType = 0xA2 // no payload -> EchoResponse{N: ListN}
	MsgStatus       ipc.MsgType = 0xA3 // the error response
	MsgTail         ipc.MsgType = 0xA4 // TailRequest -> stream of TailFrame
	MsgTailFrame    ipc.MsgType = 0xA5
)

// Access levels of the test protocol's calls: List and Tail need read,
// Echo needs write (enforced only by a server with Options.Access).
const (
	AccessRead  = "read"
	AccessWrite = "write"
)

// ListN is the N of every List answer.
const ListN = 42

// EchoRequest asks for its ID and N back; Sleep delays the answer (cut short
// by the call's context only if Honor is set), Panic makes the handler
// panic, Fail makes it return an error with that text.
type EchoRequest struct {
	ID    string
	N     int
	Sleep time.Duration
	Honor bool
	Panic bool
	Fail  string
}

// EchoResponse carries the request's ID and N, and the peer's uid.
type EchoResponse struct {
	ID  string
	N   int
	UID int
}

// Status is the protocol's error response.
type Status struct{ Err string }

// TailRequest asks for N frames; with Follow the stream then stays open
// until the client goes away, else the N-th frame is the last (EOF).
type TailRequest struct {
	N      int
	Follow bool
}

// TailFrame is one stream frame.
type TailFrame struct {
	I   int
	EOF bool
}

// Handler implements the test protocol; nil funcs pick the default
// behaviour described on each request type.
type Handler struct {
	Echo func(ctx context.Context, req *EchoRequest) (*EchoResponse, error)
	Tail func(ctx context.Context, req *TailRequest, s *server.Stream) error
	// TailSender, when set, serves Tail through the typed sender instead
	// (whose Send checks the frame's limits).
	TailSender func(ctx context.Context, req *TailRequest, out *server.Sender[TailFrame]) error
}

func (h *Handler) echo(ctx context.Context, req *EchoRequest) (*EchoResponse, error) {
	if h.Echo != nil {
		return h.Echo(ctx, req)
	}
	return DefaultEcho(ctx, req)
}

// DefaultEcho is the default Echo behaviour.
func DefaultEcho(ctx context.Context, req *EchoRequest) (*EchoResponse, error) {
	if req.Panic {
		panic("servertest: asked to panic")
	}
	if req.Fail != "" {
		return nil, errors.New(req.Fail)
	}
	if req.Sleep > 0 {
		t := time.NewTimer(req.Sleep)
		defer t.Stop()
		var done <-chan struct{}
		if req.Honor {
			done = ctx.Done()
		}
		select {
		case <-t.C:
		case <-done:
			return nil, ctx.Err()
		}
	}
	resp := &EchoResponse{ID: req.ID, N: req.N}
	if p, ok := server.PeerFromContext(ctx); ok {
		resp.UID = int(p.UID)
	}
	return resp, nil
}

func (h *Handler) tail(ctx context.Context, req *TailRequest, s *server.Stream) error {
	if h.Tail != nil {
		return h.Tail(ctx, req, s)
	}
	return DefaultTail(ctx, req, s)
}

// DefaultTail is the default Tail behaviour.
func DefaultTail(ctx context.Context, req *TailRequest, s *server.Stream) error {
	for i := range req.N {
		last := !req.Follow && i == req.N-1
		if err := s.Send(MsgTailFrame, &TailFrame{I: i, EOF: last}, last); err != nil {
			return err
		}
	}
	if req.Follow {
		<-ctx.Done()
		return ctx.Err()
	}
	if req.N == 0 {
		return s.Send(MsgTailFrame, &TailFrame{EOF: true}, true)
	}
	return nil
}

// Limits the test protocol's answers are checked against, as generated
// code checks a schema's: an Echo response with a longer ID, and a Tail
// frame with I at or over TailMaxI, are not sent.
const (
	EchoMaxID = 1 << 20
	TailMaxI  = 1 << 20
)

// Table returns the dispatch table serving h, built as generated code
// builds it.
func Table(h *Handler) *server.Table {
	if h == nil {
		h = &Handler{}
	}
	return &server.Table{
		Protocol: "test",
		Methods: []server.Method{
			server.Unary(server.UnaryCall[EchoRequest, EchoResponse]{
				Name: "Echo", Request: MsgEcho, Response: MsgEchoResponse, Access: AccessWrite,
				Handle: h.echo,
				Check:  checkEcho,
			}),
			server.Unary(server.UnaryCall[server.NoPayload, EchoResponse]{
				Name: "List", Request: MsgList, Response: MsgEchoResponse, Access: AccessRead,
				Handle: func(context.Context, *server.NoPayload) (*EchoResponse, error) { return &EchoResponse{N: ListN}, nil },
			}),
			server.Streaming(server.StreamCall[TailRequest, TailFrame]{
				Name: "Tail", Request: MsgTail, Frame: MsgTailFrame, Access: AccessRead,
				Handle: func(ctx context.Context, req *TailRequest, out *server.Sender[TailFrame]) error {
					if h.TailSender != nil {
						return h.TailSender(ctx, req, out)
					}
					return h.tail(ctx, req, out.Stream())
				},
				Last:  func(f *TailFrame) bool { return f.EOF },
				Check: checkTail,
			}),
		},
		ErrorResponse: func(text string) (ipc.MsgType, msgp.Marshaler) {
			return MsgStatus, &Status{Err: text}
		},
	}
}

func checkEcho(r *EchoResponse) error {
	if len(r.ID) > EchoMaxID {
		return server.OverMaxLen("ID", len(r.ID), EchoMaxID)
	}
	return nil
}

func checkTail(f *TailFrame) error {
	if f.I >= TailMaxI {
		return server.OverMaxItems("I", f.I, TailMaxI-1)
	}
	return nil
}
