package server_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
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

// Start creates the socket's missing directories 0700 and the socket
// 0600.
func TestSocketPermissions(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{SocketPath: filepath.Join(t.TempDir(), "run", "procd", "m.sock")}, nil)
	for _, d := range []string{filepath.Dir(path), filepath.Dir(filepath.Dir(path))} {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o700 {
			t.Errorf("directory %s: mode %v, want 0700", d, got)
		}
	}
	dir, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if got := dir.Mode().Perm(); got != 0o700 {
		t.Errorf("directory mode %v, want 0700", got)
	}
	sock, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := sock.Mode().Perm(); got != 0o600 || sock.Mode().Type() != os.ModeSocket {
		t.Errorf("socket mode %v, want a 0600 socket", sock.Mode())
	}
}

// A second server at a live server's path is refused with an error naming
// the path; the first keeps its socket and serves its connections and new
// ones.
func TestLiveSocketRefused(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{}, nil)
	before := dialRaw(t, path)
	s2, err := server.New(server.Options{SocketPath: path, Logger: newLogger(&logBuffer{})}, servertest.Table(&servertest.Handler{}))
	if err != nil {
		t.Fatal(err)
	}
	err = s2.Start()
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "live server") {
		t.Fatalf("second Start: %v, want a live-server error naming %s", err, path)
	}
	if err := s2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("live socket file gone after the refused Start: %v", err)
	}
	// The first server still answers, on its connection and its socket.
	before.list(1)
	dialRaw(t, path).list(1)
}

func TestStaleSocketReplaced(t *testing.T) {
	leakCheck(t)
	path := filepath.Join(t.TempDir(), "stale.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close() // the file stays, nobody answers
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("stale socket not left behind: %v", err)
	}
	_, path = startServer(t, server.Options{SocketPath: path}, nil)
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("new socket: %v, %v; want mode 0600", fi, err)
	}
	c := dialRaw(t, path)
	c.send(servertest.MsgList, 1, nil)
	c.echo(1)
}

// A regular file or a symlink at the socket path is refused and left
// untouched; in a directory that already exists with looser permissions
// (0755, left as it is), the socket is still 0600.
func TestNonSocketRefused(t *testing.T) {
	leakCheck(t)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "file")
	if err := os.WriteFile(path, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.sock")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, link} {
		s, err := server.New(server.Options{SocketPath: p}, servertest.Table(&servertest.Handler{}))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err == nil || !strings.Contains(err.Error(), "not a socket") {
			t.Errorf("Start on %s: %v, want a not-a-socket error", filepath.Base(p), err)
		}
		s.Close(context.Background())
	}
	if b, _ := os.ReadFile(path); string(b) != "keep" {
		t.Fatal("Start clobbered a regular file")
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode().Type() != os.ModeSymlink {
		t.Errorf("symlink after the refused Start: %v, %v", fi, err)
	}
	_, sock := startServer(t, server.Options{SocketPath: filepath.Join(dir, "m.sock")}, nil)
	if fi, err := os.Lstat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket in a pre-existing 0755 directory: %v, %v; want mode 0600", fi, err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o755 {
		t.Errorf("pre-existing directory changed to %v", fi.Mode().Perm())
	}
}

// Authorize sees the connecting process's credentials; refusing them closes
// the connection before any call is served, and is logged.
func TestAuthorize(t *testing.T) {
	leakCheck(t)
	me := server.PeerCred{UID: uint32(os.Getuid()), GID: uint32(os.Getgid()), PID: int32(os.Getpid())}
	var mu sync.Mutex
	var seen []server.PeerCred
	refuse := true
	var served atomic.Int32
	var logs logBuffer
	h := &servertest.Handler{Echo: func(ctx context.Context, req *servertest.EchoRequest) (*servertest.EchoResponse, error) {
		served.Add(1)
		return servertest.DefaultEcho(ctx, req)
	}}
	_, path := startServer(t, server.Options{Logger: newLogger(&logs), Authorize: func(ctx context.Context, p server.PeerCred) error {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, p)
		if refuse && p.UID == uint32(os.Getuid()) {
			return fmt.Errorf("uid %d not allowed", p.UID)
		}
		return nil
	}}, h)
	c := dialRaw(t, path)
	req, err := ipc.AppendMsgFrame(nil, ipc.Header{MsgType: servertest.MsgEcho, SeqNo: 1}, &servertest.EchoRequest{ID: "refused"})
	if err != nil {
		t.Fatal(err)
	}
	c.nc.Write(req) // may fail: the server closes a refused connection at once
	c.expectClosed(2 * time.Second)
	if served.Load() != 0 {
		t.Error("a refused connection was served")
	}
	if out := logs.String(); !strings.Contains(out, "refused by Authorize") || !strings.Contains(out, "not allowed") {
		t.Errorf("refusal not logged:\n%s", out)
	}

	mu.Lock()
	refuse = false
	mu.Unlock()
	c = dialRaw(t, path)
	c.sendMsg(servertest.MsgEcho, 1, &servertest.EchoRequest{ID: "ok"})
	c.echo(1)
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0] != me || seen[1] != me {
		t.Fatalf("Authorize saw %+v, want this process twice (%+v)", seen, me)
	}
}

func TestMaxConns(t *testing.T) {
	leakCheck(t)
	var logs logBuffer
	_, path := startServer(t, server.Options{MaxConns: 2, Logger: newLogger(&logs)}, nil)
	a, b := dialRaw(t, path), dialRaw(t, path)
	for _, c := range []*rawConn{a, b} {
		c.send(servertest.MsgList, 1, nil)
		c.echo(1)
	}
	extra := dialRaw(t, path)
	extra.expectClosed(2 * time.Second)
	if !strings.Contains(logs.String(), "too many connections") {
		t.Errorf("refusal not logged:\n%s", logs.String())
	}
	b.send(servertest.MsgList, 2, nil) // the accepted ones keep working
	b.echo(2)
	a.nc.Close()
	waitFor(t, "a free slot", func() bool {
		c := dialRaw(t, path)
		c.send(servertest.MsgList, 1, nil)
		c.nc.SetReadDeadline(time.Now().Add(time.Second))
		_, _, err := c.fr.ReadFrame()
		c.nc.Close()
		return err == nil
	})
}

func TestIdleTimeout(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{IdleTimeout: 200 * time.Millisecond}, nil)

	// The idle clock starts when the server accepts, so the measurement
	// starts before the dial: it can only overstate the time.
	start := time.Now()
	half := dialRaw(t, path)
	half.write([]byte{0xC1, 0xD9, 0x01, 0xA2, 0, 0}) // half a header
	half.expectClosed(3 * time.Second)
	if d := time.Since(start); d < 150*time.Millisecond || d > 200*time.Millisecond+time.Second {
		t.Errorf("half-header client cut off after %v, idle timeout 200ms", d)
	}

	// A client trickling a header a byte every 50 ms is cut off too.
	trickle := dialRaw(t, path)
	stop := make(chan struct{})
	trickled := make(chan struct{})
	go func() {
		defer close(trickled)
		hdr := ipc.AppendHeader(nil, ipc.Header{MsgType: servertest.MsgList, SeqNo: 1})
		for i := range ipc.HeaderSize - 1 {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := trickle.nc.Write(hdr[i : i+1]); err != nil {
				return
			}
		}
	}()
	trickle.expectClosed(3 * time.Second)
	close(stop)
	<-trickled

	// A quiet stream outlives the timeout: its connection is not idle.
	stream := dialRaw(t, path)
	stream.sendMsg(servertest.MsgTail, 1, &servertest.TailRequest{N: 1, Follow: true})
	stream.next()
	idle := dialRaw(t, path)
	idle.expectClosed(3 * time.Second) // the timeout has passed for the stream too
	stream.nc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, _, err := stream.fr.ReadFrame(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("quiet stream after the idle timeout: %v, want it open (a read timeout)", err)
	}

	// A call in flight longer than the timeout keeps the connection.
	busy := dialRaw(t, path)
	busy.sendMsg(servertest.MsgEcho, 1, &servertest.EchoRequest{ID: "slow", Sleep: 500 * time.Millisecond})
	busy.echo(1)
	busy.send(servertest.MsgList, 2, nil)
	busy.echo(2)
	busy.expectClosed(3 * time.Second)
}

func TestInterceptorsOutermostFirst(t *testing.T) {
	leakCheck(t)
	var mu sync.Mutex
	var trace []string
	mark := func(s string) {
		mu.Lock()
		trace = append(trace, s)
		mu.Unlock()
	}
	unary := func(name string) server.UnaryInterceptor {
		return func(ctx context.Context, req any, info *server.CallInfo, next server.UnaryHandler) (any, error) {
			mark(name + ">" + info.Protocol + "." + info.Method + "/" + info.Request.String())
			resp, err := next(ctx, req)
			mark(name + "<")
			return resp, err
		}
	}
	stream := func(name string) server.StreamInterceptor {
		return func(ctx context.Context, req any, s *server.Stream, info *server.CallInfo, next server.StreamHandler) error {
			mark(name + ">" + info.Method)
			return next(ctx, req, s)
		}
	}
	_, path := startServer(t, server.Options{
		UnaryInterceptors:  []server.UnaryInterceptor{unary("a"), unary("b")},
		StreamInterceptors: []server.StreamInterceptor{stream("c"), stream("d")},
	}, nil)
	c := dialRaw(t, path)
	c.sendMsg(servertest.MsgEcho, 1, &servertest.EchoRequest{ID: "i"})
	c.echo(1)
	c.sendMsg(servertest.MsgTail, 2, &servertest.TailRequest{N: 1})
	if h, _ := c.next(); h.MsgType != servertest.MsgTailFrame {
		t.Fatalf("got %s", h.MsgType)
	}
	mu.Lock()
	defer mu.Unlock()
	want := "a>test.Echo/0xa0 b>test.Echo/0xa0 b< a< c>Tail d>Tail"
	if got := strings.Join(trace, " "); got != want {
		t.Fatalf("trace %q, want %q", got, want)
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

// An interceptor returning a response of the wrong type must not make the
// call succeed with a zero response: the answer names the mistake.
func TestInterceptorWrongResponseType(t *testing.T) {
	leakCheck(t)
	wrong := func(ctx context.Context, req any, info *server.CallInfo, next server.UnaryHandler) (any, error) {
		if _, err := next(ctx, req); err != nil {
			return nil, err
		}
		return "not a response", nil
	}
	_, path := startServer(t, server.Options{UnaryInterceptors: []server.UnaryInterceptor{wrong}}, nil)
	c := dialRaw(t, path)
	c.sendMsg(servertest.MsgEcho, 1, &servertest.EchoRequest{ID: "x"})
	if text := c.status(1); !strings.Contains(text, "interceptor returned a string") {
		t.Errorf("answer %q, want one naming the interceptor's mistake", text)
	}
}
