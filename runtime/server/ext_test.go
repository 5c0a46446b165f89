package server_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
	"github.com/mgmtgen/mgmtgen/runtime/status"
)

// The server's side of the extensions, frame by frame (docs/wire.md,
// "Extensions").

var hello = &ipc.Hello{Version: ipc.ExtVersion, Features: []string{"errors", "ping", "someday"}}

// errorFrame reads the next frame, which must be an error frame for seq.
func (r *rawConn) errorFrame(seq uint64) ipc.Status {
	r.t.Helper()
	var st ipc.Status
	r.frameOf(ipc.MsgError, seq, &st)
	return st
}

// frameOf reads the next frame, which must be of type t for seq, into m.
func (r *rawConn) frameOf(t ipc.MsgType, seq uint64, m msgp.Unmarshaler) {
	r.t.Helper()
	h, body := r.next()
	if h.MsgType != t || h.SeqNo != seq || ipc.DecodePayload(body, m) != nil {
		r.t.Fatalf("got %s seq %d % x, want %s for seq %d", h.MsgType, h.SeqNo, body, t, seq)
	}
}

// A hello as the first frame is answered at once with the features both
// speak; from then on errors are error frames and the runtime's calls are
// served, and the connection survives every one.
func TestHelloExtends(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{}, nil)
	c := dialRaw(t, path)
	c.sendMsg(ipc.MsgHello, 0, hello)
	h, body := c.next()
	want, _ := ipc.AppendMsgFrame(nil, ipc.Header{MsgType: ipc.MsgHelloAck}, &ipc.HelloAck{Version: 1, Features: []string{"errors", "ping"}, Runtime: ipc.RuntimeVersion})
	got, _ := ipc.AppendFrame(nil, h, body)
	if !bytes.Equal(got, want) {
		t.Fatalf("hello answered\n% x\nwant\n% x", got, want)
	}
	c.send(0xAE, 1, nil)
	if st := c.errorFrame(1); status.Code(st.Code) != status.Unimplemented || st.Message != "unknown request type 0xae" {
		t.Errorf("unknown type: %+v", st)
	}
	c.sendMsg(servertest.MsgEcho, 2, &servertest.EchoRequest{Fail: "no luck"})
	if st := c.errorFrame(2); status.Code(st.Code) != status.Unknown || st.Message != "no luck" {
		t.Errorf("handler error: %+v", st)
	}
	c.sendMsg(servertest.MsgEcho, 3, &servertest.EchoRequest{Panic: true})
	if st := c.errorFrame(3); status.Code(st.Code) != status.Internal {
		t.Errorf("panic: %+v", st)
	}
	c.send(servertest.MsgEcho, 4, []byte{0x81})
	if st := c.errorFrame(4); status.Code(st.Code) != status.InvalidArgument {
		t.Errorf("malformed: %+v", st)
	}
	c.send(ipc.MsgPing, 5, nil)
	if h, body := c.next(); h.MsgType != ipc.MsgPong || h.SeqNo != 5 || len(body) != 0 {
		t.Errorf("ping answered %+v % x", h, body)
	}
	c.sendMsg(ipc.MsgHello, 6, hello) // only the first frame may be a hello
	if st := c.errorFrame(6); status.Code(st.Code) != status.Unimplemented {
		t.Errorf("second hello: %+v", st)
	}
	c.send(servertest.MsgList, 7, nil)
	if r := c.echo(7); r.N != servertest.ListN {
		t.Errorf("List after the errors: %+v", r)
	}
}

// Without a hello first, the runtime's ids are unknown request types,
// answered as the base protocol answers them, and no frame of the runtime's
// is ever sent; the same on a server built with Options.Legacy, hello
// first or not.
func TestNoHelloNoExtensions(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{}, nil)
	_, legacy := startServer(t, server.Options{Legacy: true}, nil)
	late := dialRaw(t, path)
	late.send(servertest.MsgList, 1, nil)
	late.echo(1)
	for name, c := range map[string]*rawConn{"hello not first": late, "legacy server": dialRaw(t, legacy)} {
		c.sendMsg(ipc.MsgHello, 0, hello)
		if got := c.status(0); got != "unknown request type 0xf0" {
			t.Errorf("%s: hello answered %q", name, got)
		}
		c.send(ipc.MsgPing, 2, nil)
		if got := c.status(2); got != "unknown request type 0xf9" {
			t.Errorf("%s: ping answered %q", name, got)
		}
		c.sendMsg(servertest.MsgEcho, 3, &servertest.EchoRequest{Fail: "no luck"})
		if got := c.status(3); got != "no luck" {
			t.Errorf("%s: handler error answered %q", name, got)
		}
	}
}

// A malformed hello is answered as a malformed request of the base
// protocol, and the connection stays in it.
func TestMalformedHello(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{}, nil)
	c := dialRaw(t, path)
	c.send(ipc.MsgHello, 0, []byte{0x81, 0xa1, 'v', 0xa1, 'x'})
	if got := c.status(0); got != `malformed hello request: ipc: malformed control payload: hello field "v": msgp: attempted to decode type "str" with method for "uint"` {
		t.Errorf("malformed hello answered %q", got)
	}
	c.send(ipc.MsgPing, 1, nil)
	if got := c.status(1); got != "unknown request type 0xf9" {
		t.Errorf("ping after a malformed hello answered %q", got)
	}
}

// The runtime's block is refused in a table.
func TestReservedIDsRefused(t *testing.T) {
	tb := servertest.Table(nil)
	tb.Methods[1] = server.Unary(server.UnaryCall[server.NoPayload, servertest.EchoResponse]{Name: "Bad", Request: 0xF9, Response: 0xA1})
	if _, err := server.New(server.Options{}, tb); err == nil || err.Error() != `server: method "Bad": request type 0xf9 is in the runtime's reserved block 0xf0..0xff` {
		t.Errorf("New with id 0xf9: %v", err)
	}
}

// A handler that returns a response and an error answers, on an extended
// connection, with the error frame alone: the response is not sent (the
// next frame on the connection answers the next request).
func TestExtResponseWithErrorSendsOnlyTheError(t *testing.T) {
	leakCheck(t)
	h := &servertest.Handler{Echo: func(ctx context.Context, req *servertest.EchoRequest) (*servertest.EchoResponse, error) {
		return &servertest.EchoResponse{ID: req.ID, N: 7}, status.New(status.FailedPrecondition, "half done")
	}}
	_, path := startServer(t, server.Options{}, h)
	c := dialRaw(t, path)
	c.sendMsg(ipc.MsgHello, 0, hello)
	c.next()
	c.sendMsg(servertest.MsgEcho, 1, &servertest.EchoRequest{ID: "x"})
	if st := c.errorFrame(1); status.Code(st.Code) != status.FailedPrecondition || st.Message != "half done" {
		t.Errorf("answer %+v, want FailedPrecondition half done", st)
	}
	c.send(servertest.MsgList, 2, nil)
	if r := c.echo(2); r.N != servertest.ListN {
		t.Errorf("the frame after the error frame: %+v, want the List answer", r)
	}
}
