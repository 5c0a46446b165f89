package server_test

// Answers over the protocol's limits are not sent; LimitError paths.

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

// A response over the protocol's limits is not sent: the caller gets the
// error response naming the field and the limit, the server logs it, and the
// connection goes on.
func TestLimitResponseNotSent(t *testing.T) {
	leakCheck(t)
	var logs logBuffer
	_, path := startServer(t, server.Options{Logger: newLogger(&logs)}, nil)
	c := dialRaw(t, path)
	c.sendMsg(servertest.MsgEcho, 1, &servertest.EchoRequest{ID: strings.Repeat("i", servertest.EchoMaxID+1)})
	want := "server: answer not sent: field ID has 1048577 bytes, over the schema's max_len 1048576"
	if got := c.status(1); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if !strings.Contains(logs.String(), `msg="server: answer over the schema's limits not sent" protocol=test method=Echo field=ID limit=max_len max=1048576 got=1048577`) {
		t.Errorf("refusal not logged:\n%s", logs.String())
	}
	c.sendMsg(servertest.MsgEcho, 2, &servertest.EchoRequest{ID: strings.Repeat("i", servertest.EchoMaxID)})
	if got := c.echo(2); len(got.ID) != servertest.EchoMaxID {
		t.Fatalf("response at the limit: %d bytes", len(got.ID))
	}
}

// A stream frame over the limits is not sent: Send returns the
// *server.LimitError, the client gets the error response (with the
// request's seq) after the frames before it, and the stream is over: the
// connection closes.
func TestLimitStreamFrameNotSent(t *testing.T) {
	leakCheck(t)
	sendErr := make(chan error, 1)
	h := &servertest.Handler{TailSender: func(ctx context.Context, _ *servertest.TailRequest, out *server.Sender[servertest.TailFrame]) error {
		if err := out.Send(&servertest.TailFrame{I: 1}); err != nil {
			return err
		}
		err := out.Send(&servertest.TailFrame{I: servertest.TailMaxI})
		sendErr <- err
		if again := out.Send(&servertest.TailFrame{I: 2}); again == nil {
			t.Error("Send after a refused frame succeeded")
		}
		return err
	}}
	var logs logBuffer
	_, path := startServer(t, server.Options{Logger: newLogger(&logs)}, h)
	c := dialRaw(t, path)
	c.sendMsg(servertest.MsgTail, 5, &servertest.TailRequest{Follow: true})
	if f := c.tailFrame(); f.I != 1 {
		t.Fatalf("first frame %+v", f)
	}
	if got := c.status(5); !strings.Contains(got, "field I has 1048576 items, over the schema's max_items 1048575") {
		t.Fatalf("got %q", got)
	}
	var le *server.LimitError
	if err := <-sendErr; !errors.As(err, &le) || le.Field != "I" || le.Limit != "max_items" {
		t.Fatalf("Send = %v, want a *server.LimitError for I", err)
	}
	c.expectClosed(5 * time.Second)
	if !strings.Contains(logs.String(), "method=Tail field=I") {
		t.Errorf("refusal not logged:\n%s", logs.String())
	}
}

// LimitError paths as generated checks build them.
func TestLimitErrorPath(t *testing.T) {
	err := server.LimitInElem(server.LimitInField(server.OverMaxLen("ID", 5000, 4096), "Entry"), "Entries", 3)
	want := "server: answer not sent: field Entries[3].Entry.ID has 5000 bytes, over the schema's max_len 4096"
	if err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
	err = server.LimitInKey(server.LimitInElem(server.OverMaxLen("", 9, 8), "", 2), "Labels", "k")
	if want := `server: answer not sent: field Labels["k"][2] has 9 bytes, over the schema's max_len 8`; err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
	plain := errors.New("other")
	if server.LimitInField(plain, "X") != plain {
		t.Error("LimitInField changed a non-limit error")
	}
}
