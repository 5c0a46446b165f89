package server_test

// Requests and answers: unary calls, unknown and malformed requests, framing errors, handler
// errors and panics, the dispatch table.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

func TestUnaryRoundTrip(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{}, nil)
	c := dialRaw(t, path)
	c.sendMsg(servertest.MsgEcho, 7, &servertest.EchoRequest{ID: "a", N: 3})
	resp := c.echo(7)
	if resp.ID != "a" || resp.N != 3 {
		t.Fatalf("got %+v", resp)
	}
	if resp.UID != os.Getuid() {
		t.Errorf("peer uid %d, want %d", resp.UID, os.Getuid())
	}
}

// TestCliwrapClientFrames writes exactly what a cliwrap client sends: seq
// 1, 2, 3 on one connection, a zero-length List request among them.
func TestCliwrapClientFrames(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{}, nil)
	c := dialRaw(t, path)
	c.write([]byte{0xC1, 0xD9, 0x01, 0xA2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0})
	if got := c.echo(1); got.N != servertest.ListN {
		t.Fatalf("List: got %+v", got)
	}
	c.sendMsg(servertest.MsgEcho, 2, &servertest.EchoRequest{ID: "x"})
	if got := c.echo(2); got.ID != "x" {
		t.Fatalf("Echo: got %+v", got)
	}
	c.send(servertest.MsgEcho, 3, nil) // zero length: the zero request
	if got := c.echo(3); got.ID != "" || got.N != 0 {
		t.Fatalf("zero-length Echo: got %+v", got)
	}
}

// TestRequestsRunConcurrently: a slow request does not hold up a later one
// on the same connection, and each answer carries its request's seq.
func TestRequestsRunConcurrently(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{}, nil)
	c := dialRaw(t, path)
	c.sendMsg(servertest.MsgEcho, 1, &servertest.EchoRequest{ID: "slow", Sleep: 300 * time.Millisecond})
	c.sendMsg(servertest.MsgEcho, 2, &servertest.EchoRequest{ID: "fast"})
	if got := c.echo(2); got.ID != "fast" {
		t.Fatalf("got %+v", got)
	}
	if got := c.echo(1); got.ID != "slow" {
		t.Fatalf("got %+v", got)
	}
}

func TestUnknownTypeKeepsConnection(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{}, nil)
	c := dialRaw(t, path)
	c.send(0x7F, 1, nil)
	if got := c.status(1); got != "unknown request type 0x7f" {
		t.Fatalf("got %q", got)
	}
	c.send(0xAB, 2, []byte{0x80})
	if got := c.status(2); got != "unknown request type 0xab" {
		t.Fatalf("got %q", got)
	}
	c.send(servertest.MsgList, 3, nil)
	c.echo(3)
}

func TestMalformedPayloadKeepsConnection(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{}, nil)
	c := dialRaw(t, path)
	for i, body := range [][]byte{
		{0xC1},                  // never-used msgpack byte
		{0x81, 0xA2, 'i', 'd'},  // truncated map
		{0x81, 0xA1, 'n', 0xA1}, // string where an int belongs... truncated too
		{0x81, 0xA1, 'n', 0xA0}, // string where an int belongs
		{0x80, 0x80},            // trailing bytes
		{0x92, 0x01, 0x02},      // an array, not a map
	} {
		seq := uint64(i + 1)
		c.send(servertest.MsgEcho, seq, body)
		if got := c.status(seq); !strings.HasPrefix(got, "malformed Echo request: ") {
			t.Errorf("body % x: got %q", body, got)
		}
	}
	c.sendMsg(servertest.MsgEcho, 99, &servertest.EchoRequest{ID: "after"})
	if got := c.echo(99); got.ID != "after" {
		t.Fatalf("got %+v", got)
	}
}

// Framing errors close the connection, are logged, and leave the other
// connections served; a request within MaxPayload is served; request flags
// are ignored (the answer carries none).
func TestFramingErrorClosesConnection(t *testing.T) {
	leakCheck(t)
	var logs logBuffer
	_, path := startServer(t, server.Options{MaxPayload: 1024, Logger: logs.Logger()}, nil)
	good := dialRaw(t, path)
	big := strings.Repeat("x", 900)
	good.sendMsg(servertest.MsgEcho, 1, &servertest.EchoRequest{ID: big})
	if r := good.echo(1); r.ID != big {
		t.Fatalf("request within MaxPayload answered %.20q", r.ID)
	}
	for name, frame := range map[string][]byte{
		"bad magic":   {0xC1, 0xDA, 0x01, 0xA2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0},
		"bad version": {0xC1, 0xD9, 0x02, 0xA2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0},
		"oversize":    {0xC1, 0xD9, 0x01, 0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 4, 1},
		"over 16MiB":  {0xC1, 0xD9, 0x01, 0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1},
	} {
		t.Run(name, func(t *testing.T) {
			c := dialRaw(t, path)
			c.write(frame)
			c.expectClosed(2 * time.Second)
			good.list(2)
		})
	}
	if out := logs.String(); !strings.Contains(out, "framing error") {
		t.Errorf("framing errors not logged:\n%s", out)
	}
	frame, err := ipc.AppendFrame(nil, ipc.Header{MsgType: servertest.MsgList, SeqNo: 99, Flags: ipc.FlagAckRequired | ipc.FlagIsReplay | ipc.FlagFileRef}, nil)
	if err != nil {
		t.Fatal(err)
	}
	good.write(frame)
	if h, _ := good.next(); h.SeqNo != 99 || h.Flags != 0 || h.MsgType != servertest.MsgEchoResponse {
		t.Errorf("request with flags answered %+v, want seq 99 with flags 0", h)
	}
}

func TestHandlerPanicRecovered(t *testing.T) {
	leakCheck(t)
	var logs logBuffer
	_, path := startServer(t, server.Options{Logger: newLogger(&logs)}, nil)
	c := dialRaw(t, path)
	c.sendMsg(servertest.MsgEcho, 1, &servertest.EchoRequest{Panic: true})
	if got := c.status(1); got != "server: panic in Echo handler" {
		t.Fatalf("got %q", got)
	}
	c.sendMsg(servertest.MsgEcho, 2, &servertest.EchoRequest{ID: "ok"})
	c.echo(2)
	out := logs.String()
	for _, want := range []string{"level=ERROR", "handler panic", "method=Echo", "asked to panic", "goroutine", "servertest.DefaultEcho"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestHandlerErrorAnswered(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{}, nil)
	c := dialRaw(t, path)
	c.sendMsg(servertest.MsgEcho, 1, &servertest.EchoRequest{Fail: "no such process"})
	if got := c.status(1); got != "no such process" {
		t.Fatalf("got %q", got)
	}
}

func TestNoErrorResponseClosesConnection(t *testing.T) {
	leakCheck(t)
	table := servertest.Table(nil)
	table.ErrorResponse = nil
	path := filepath.Join(t.TempDir(), "s.sock")
	s, err := server.New(server.Options{SocketPath: path, Logger: newLogger(&logBuffer{})}, table)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	c := dialRaw(t, path)
	c.send(0x7F, 1, nil)
	c.expectClosed(2 * time.Second)
}

// A Method not built by Unary or Streaming (it can hold neither or one,
// never both), and two methods on one request type, are refused.
func TestNewChecksTable(t *testing.T) {
	echo := servertest.Table(nil).Methods[0]
	tail := servertest.Table(nil).Methods[2]
	tail.Request = echo.Request
	for name, table := range map[string]*server.Table{
		"neither":   {Methods: []server.Method{{Name: "A", Request: 1}}},
		"duplicate": {Methods: []server.Method{echo, tail}},
	} {
		if _, err := server.New(server.Options{}, table); err == nil {
			t.Errorf("%s: New accepted the table", name)
		}
	}
	if _, err := server.New(server.Options{}, nil); err == nil {
		t.Error("New accepted a nil table")
	}
}

// TestDecodeErrorType checks the DecodeError text and unwrapping.
func TestDecodeErrorType(t *testing.T) {
	err := error(&server.DecodeError{Method: "Status", Err: ipc.ErrTrailingBytes})
	if !errors.Is(err, ipc.ErrTrailingBytes) || err.Error() != "malformed Status request: "+ipc.ErrTrailingBytes.Error() {
		t.Fatalf("got %v", err)
	}
}

// emptyError is an error whose text is empty.
type emptyError struct{}

func (emptyError) Error() string { return "" }

// A handler error must reach the client as an error answer with a text
// even when its own text is empty, never as success.
func TestEmptyErrorText(t *testing.T) {
	leakCheck(t)
	h := &servertest.Handler{Echo: func(context.Context, *servertest.EchoRequest) (*servertest.EchoResponse, error) {
		return nil, emptyError{}
	}}
	_, path := startServer(t, server.Options{}, h)
	c := dialRaw(t, path)
	c.sendMsg(servertest.MsgEcho, 1, &servertest.EchoRequest{})
	if text := c.status(1); text == "" {
		t.Error("error answer with an empty text")
	}
}

// TestUnaryContextEndsWithConnection: a unary handler's context is
// cancelled when the client goes away.
func TestUnaryContextEndsWithConnection(t *testing.T) {
	leakCheck(t)
	done := make(chan error, 1)
	h := &servertest.Handler{Echo: func(ctx context.Context, req *servertest.EchoRequest) (*servertest.EchoResponse, error) {
		<-ctx.Done()
		done <- ctx.Err()
		return nil, ctx.Err()
	}}
	_, path := startServer(t, server.Options{}, h)
	c := dialRaw(t, path)
	c.sendMsg(servertest.MsgEcho, 1, &servertest.EchoRequest{})
	time.Sleep(50 * time.Millisecond)
	c.nc.Close()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("handler context not cancelled")
	}
}

func TestErrorTexts(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{server.ErrServerClosed, "server: closed"},
		{server.ErrStreamEnded, "server: stream already ended"},
	} {
		if got := fmt.Sprint(c.err); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}

// TestSlowCallDoesNotHoldUpLater: a slow call, even alone on the wire,
// runs on its own handler goroutine: the reader goes on reading, so a later
// request on the same connection is not held up.
func TestSlowCallDoesNotHoldUpLater(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{}, nil)
	c := dialRaw(t, path)
	for round := range 3 {
		seq := uint64(10 * round)
		c.sendMsg(servertest.MsgEcho, seq+1, &servertest.EchoRequest{ID: "slow", Sleep: 300 * time.Millisecond})
		time.Sleep(20 * time.Millisecond) // alone on the wire
		start := time.Now()
		c.sendMsg(servertest.MsgEcho, seq+2, &servertest.EchoRequest{ID: "fast"})
		if got := c.echo(seq + 2); got.ID != "fast" {
			t.Fatalf("got %+v", got)
		}
		if d := time.Since(start); d > 200*time.Millisecond {
			t.Fatalf("fast call waited %v behind the slow one", d)
		}
		if got := c.echo(seq + 1); got.ID != "slow" {
			t.Fatalf("got %+v", got)
		}
	}
}

// TestNilResponseAnswered: a handler returning a nil response pointer (and
// no error) is answered with the zero response, as generated handlers
// document.
func TestNilResponseAnswered(t *testing.T) {
	leakCheck(t)
	h := &servertest.Handler{Echo: func(ctx context.Context, req *servertest.EchoRequest) (*servertest.EchoResponse, error) {
		return nil, nil
	}}
	_, path := startServer(t, server.Options{}, h)
	c := dialRaw(t, path)
	c.sendMsg(servertest.MsgEcho, 1, &servertest.EchoRequest{ID: "x", N: 7})
	if got := c.echo(1); *got != (servertest.EchoResponse{}) {
		t.Fatalf("got %+v, want the zero response", got)
	}
	c.send(servertest.MsgList, 2, nil)
	c.echo(2)
}

// TestPipelineBurst: 10,000 requests in one write are each answered
// exactly once, with their own seq and payload.
func TestPipelineBurst(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{}, nil)
	c := dialRaw(t, path)
	const n = 10000
	var burst []byte
	for i := range n {
		burst, _ = ipc.AppendMsgFrame(burst, ipc.Header{MsgType: servertest.MsgEcho, SeqNo: uint64(i + 1)},
			&servertest.EchoRequest{ID: fmt.Sprint(i + 1)})
	}
	go c.nc.Write(burst)
	seen := make([]bool, n+1)
	for range n {
		h, body := c.next()
		var r servertest.EchoResponse
		if err := ipc.DecodePayload(body, &r); err != nil || h.MsgType != servertest.MsgEchoResponse {
			t.Fatalf("frame %s: %v", h.MsgType, err)
		}
		if h.SeqNo == 0 || h.SeqNo > n || seen[h.SeqNo] || r.ID != fmt.Sprint(h.SeqNo) {
			t.Fatalf("seq %d answered with %q (seen before: %v)", h.SeqNo, r.ID, h.SeqNo <= n && seen[h.SeqNo])
		}
		seen[h.SeqNo] = true
	}
}
