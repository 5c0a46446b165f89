package mgmt_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// hHandler is the handler of the hardening tests: it answers at once, except
// that process id "block" blocks until release is closed (or the call's
// context ends), Logs with Follow sends a frame every flood interval (0:
// only the snapshot, then waits for the client to leave), and Events waits.
type hHandler struct {
	mgmt.UnimplementedHandler
	release chan struct{} // closed to unblock "block" calls
	flood   time.Duration // Logs follow: pause between frames; 0 none
	chunk   int           // Logs follow: bytes per frame

	slowDone atomic.Int64 // "slow" calls the handler completed

	mu       sync.Mutex
	blocked  int           // calls currently blocked
	streamUp chan struct{} // receives one value per stream handler start (if non-nil)
	ended    chan error    // receives each stream handler's ctx.Err() when it ends (if non-nil)
}

func newHHandler() *hHandler { return &hHandler{release: make(chan struct{})} }

func (h *hHandler) List(context.Context) (*mgmt.ListResponsePayload, error) {
	return &mgmt.ListResponsePayload{Entries: []mgmt.ListEntry{{ID: "a", Name: "A", State: "running", ChildPID: 7, RSS: 1 << 20}}}, nil
}

func (h *hHandler) Status(ctx context.Context, req *mgmt.StatusRequestPayload) (*mgmt.StatusResponsePayload, error) {
	switch {
	case req.ID == "block":
		h.mu.Lock()
		h.blocked++
		h.mu.Unlock()
		select {
		case <-h.release:
		case <-ctx.Done():
			if h.ended != nil {
				h.ended <- ctx.Err()
			}
			return nil, ctx.Err()
		}
	case req.ID == "slow":
		time.Sleep(100 * time.Millisecond) // deaf to ctx: Close must wait for it
		h.slowDone.Add(1)
	case strings.HasPrefix(req.ID, "missing"):
		return nil, errors.New("unknown process")
	}
	return &mgmt.StatusResponsePayload{Entry: mgmt.ListEntry{ID: req.ID, State: "running"}}, nil
}

func (h *hHandler) Stop(_ context.Context, req *mgmt.StopRequestPayload) (*mgmt.StatusResponsePayload, error) {
	return &mgmt.StatusResponsePayload{Entry: mgmt.ListEntry{ID: req.ID, State: "stopped"}}, nil
}

func (h *hHandler) Start(_ context.Context, req *mgmt.StartRequestPayload) (*mgmt.StatusResponsePayload, error) {
	return &mgmt.StatusResponsePayload{Entry: mgmt.ListEntry{ID: req.ID, State: "running"}}, nil
}

func (h *hHandler) note(ctx context.Context) {
	if h.streamUp != nil {
		h.streamUp <- struct{}{}
	}
	if h.ended != nil {
		context.AfterFunc(ctx, func() { h.ended <- ctx.Err() })
	}
}

func (h *hHandler) Logs(ctx context.Context, req *mgmt.LogsRequestPayload, out mgmt.LogsSender) error {
	if !req.Follow {
		return out.Send(&mgmt.LogsStreamPayload{ID: req.ID, Stream: req.Stream, Data: []byte("snapshot\n"), EOF: true})
	}
	h.note(ctx)
	if err := out.Send(&mgmt.LogsStreamPayload{ID: req.ID, Data: []byte("snapshot\n")}); err != nil {
		return err
	}
	if h.flood == 0 {
		<-ctx.Done()
		return nil
	}
	data := bytes.Repeat([]byte("x"), max(h.chunk, 1))
	for ctx.Err() == nil {
		if err := out.Send(&mgmt.LogsStreamPayload{ID: req.ID, Data: data}); err != nil {
			return err
		}
		time.Sleep(h.flood)
	}
	return nil
}

func (h *hHandler) Events(ctx context.Context, _ *mgmt.EventsSubscribePayload, out mgmt.EventsSender) error {
	h.note(ctx)
	if err := out.Send(&mgmt.EventsStreamPayload{ProcessID: "a", Type: "process.started"}); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

func (h *hHandler) blockedCalls() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.blocked
}

// hStart starts a generated server for h on a socket in a fresh temporary
// directory and closes it at cleanup. A nil opts.Handler gets h.
func hStart(t testing.TB, opts mgmt.ServerOptions) (*mgmt.Server, string, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	if opts.Handler == nil {
		opts.Handler = newHHandler()
	}
	if opts.SocketPath == "" {
		opts.SocketPath = filepath.Join(t.TempDir(), "run", "mgmt.sock")
	}
	if opts.Logger == nil {
		opts.Logger = logs.Logger()
	}
	srv, err := mgmt.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return srv, opts.SocketPath, logs
}

// hConn speaks frames by hand, as a cliwrap client or a hostile peer does.
type hConn struct {
	t  testing.TB
	nc net.Conn
	fr *ipc.FrameReader
}

func hDial(t testing.TB, path string) *hConn {
	t.Helper()
	nc, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &hConn{t: t, nc: nc, fr: ipc.NewFrameReader(nc, 0)}
}

func (c *hConn) write(b []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func hFrame(t ipc.MsgType, seq uint64, payload []byte) []byte {
	b, err := ipc.AppendFrame(nil, ipc.Header{MsgType: t, SeqNo: seq}, payload)
	if err != nil {
		panic(err)
	}
	return b
}

func hMsgFrame(t ipc.MsgType, seq uint64, m msgp.Marshaler) []byte {
	b, err := ipc.AppendMsgFrame(nil, ipc.Header{MsgType: t, SeqNo: seq}, m)
	if err != nil {
		panic(err)
	}
	return b
}

// next reads one frame within d.
func (c *hConn) next(d time.Duration) (ipc.Header, []byte, error) {
	c.nc.SetReadDeadline(time.Now().Add(d))
	return c.fr.ReadFrame()
}

// status reads a StatusResponse answering seq and returns it.
func (c *hConn) status(seq uint64) *mgmt.StatusResponsePayload {
	c.t.Helper()
	h, body, err := c.next(5 * time.Second)
	if err != nil {
		c.t.Fatalf("read frame: %v", err)
	}
	if h.MsgType != mgmt.MsgStatusResponse || h.SeqNo != seq {
		c.t.Fatalf("got frame %s seq %d, want %s seq %d", h.MsgType, h.SeqNo, mgmt.MsgStatusResponse, seq)
	}
	var p mgmt.StatusResponsePayload
	if err := ipc.DecodePayload(body, &p); err != nil {
		c.t.Fatal(err)
	}
	return &p
}

// list sends a List request and checks its answer.
func (c *hConn) list(seq uint64) {
	c.t.Helper()
	c.write(hFrame(mgmt.MsgListRequest, seq, nil))
	h, body, err := c.next(5 * time.Second)
	if err != nil {
		c.t.Fatalf("list: read frame: %v", err)
	}
	var p mgmt.ListResponsePayload
	if h.MsgType != mgmt.MsgListResponse || h.SeqNo != seq || ipc.DecodePayload(body, &p) != nil || len(p.Entries) != 1 {
		c.t.Fatalf("list: got frame %s seq %d %q", h.MsgType, h.SeqNo, body)
	}
}

// closed reports whether the server closed the connection within d without
// sending a frame; a frame fails the test.
func (c *hConn) closed(d time.Duration) bool {
	c.t.Helper()
	h, _, err := c.next(d)
	if err == nil {
		c.t.Fatalf("got frame %s seq %d, want the connection closed", h.MsgType, h.SeqNo)
	}
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout()) || errors.Is(err, io.EOF)
}

// hWaitFor polls cond for up to d.
func hWaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func hCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
