package mgmt_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/server"
)

// Close lets an in-flight call finish and answer, ends open streams, removes
// the socket file and returns nil once everything is done.
func TestCloseDrains(t *testing.T) {
	noLeaks(t)
	release := make(chan struct{})
	inCall := make(chan struct{}, 1)
	streamStarted, streamEnded := make(chan struct{}, 1), make(chan struct{}, 1)
	h := blockedLogs(streamStarted, streamEnded)
	h.status = func(_ context.Context, r *mgmt.StatusRequestPayload) (*mgmt.StatusResponsePayload, error) {
		inCall <- struct{}{}
		<-release
		return &mgmt.StatusResponsePayload{Entry: entry(r.ID)}, nil
	}
	srv, path, _ := startServer(t, h)
	c := dial(t, path)
	ctx := testCtx(t)

	s, err := c.Logs(ctx, &mgmt.LogsRequestPayload{ID: "w", Follow: true})
	if err != nil {
		t.Fatalf("Logs: %v", err)
	}
	defer s.Close()
	recv(t, streamStarted, "the stream handler")
	type answer struct {
		resp *mgmt.StatusResponsePayload
		err  error
	}
	answered := make(chan answer, 1)
	go func() {
		resp, err := c.Status(ctx, &mgmt.StatusRequestPayload{ID: "inflight"})
		answered <- answer{resp, err}
	}()
	recv(t, inCall, "the in-flight call")

	closed := make(chan error, 1)
	go func() { closed <- srv.Close(ctx) }()
	// Close cancels the stream at once ...
	recv(t, streamEnded, "the stream handler's ctx to end on Close")
	if p, err := s.Recv(); err == nil && string(p.Data) == "snap" {
		p, err = s.Recv()
		if err != io.EOF {
			t.Errorf("stream Recv after Close = %+v, %v; want io.EOF", p, err)
		}
	} else if err != io.EOF {
		t.Errorf("stream Recv after Close = %+v, %v; want snap then io.EOF", p, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file after Close began: %v, want it removed", err)
	}
	// ... but waits for the in-flight call.
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v with a call in flight", err)
	default:
	}
	close(release)
	a := recv(t, answered, "the in-flight call's answer")
	if a.err != nil || a.resp.Entry.ID != "inflight" {
		t.Errorf("in-flight call = %+v, %v; want its answer", a.resp, a.err)
	}
	if err := recv(t, closed, "Close"); err != nil {
		t.Errorf("Close = %v, want nil", err)
	}
	if _, err := c.List(ctx); !errors.Is(err, client.ErrClosed) {
		t.Errorf("List after Close = %v, want client.ErrClosed", err)
	}
	if _, err := mgmt.Dial(path); err == nil {
		t.Error("Dial after Close succeeded")
	}
}

// Close with a short ctx while a handler hangs returns ctx.Err() promptly;
// the hung call's client sees its connection closed.
func TestCloseGivesUp(t *testing.T) {
	noLeaks(t)
	release := make(chan struct{})
	entered, returned := make(chan struct{}, 1), make(chan struct{})
	h := &handler{stop: func(context.Context, *mgmt.StopRequestPayload) (*mgmt.StatusResponsePayload, error) {
		defer close(returned)
		entered <- struct{}{}
		<-release // hangs, ignoring its ctx
		return nil, nil
	}}
	srv, path, _ := startServer(t, h)
	c := dial(t, path)
	called := make(chan error, 1)
	callCtx := testCtx(t)
	go func() {
		_, err := c.Stop(callCtx, &mgmt.StopRequestPayload{ID: "x"})
		called <- err
	}()
	recv(t, entered, "the hanging handler")

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := srv.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > prompt {
		t.Errorf("Close took %v with a 100ms ctx", d)
	}
	if err := within(t, called, prompt, "the hung call failing"); !errors.Is(err, client.ErrClosed) {
		t.Errorf("hung call = %v, want client.ErrClosed", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file after Close: %v, want it removed", err)
	}
	close(release)
	recv(t, returned, "the handler to return")
}

// Start creates the socket's directory 0700 and the socket 0600; a closed
// server does not start again; a server needs a handler.
func TestSocketSetup(t *testing.T) {
	noLeaks(t)
	dir := filepath.Join(t.TempDir(), "run", "procd")
	srv, path, _ := startServer(t, fullHandler(nil), func(o *mgmt.ServerOptions) { o.SocketPath = filepath.Join(dir, "manager.sock") })
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("socket directory: %v, %v; want mode 0700", fi, err)
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket: %v, %v; want a socket with mode 0600", fi, err)
	}
	if err := srv.Close(testCtx(t)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := srv.Start(); !errors.Is(err, server.ErrServerClosed) {
		t.Errorf("Start after Close = %v, want server.ErrServerClosed", err)
	}
	if _, err := mgmt.NewServer(mgmt.ServerOptions{SocketPath: path}); err == nil || !strings.HasPrefix(err.Error(), "mgmt: ") {
		t.Errorf("NewServer without a handler = %v, want an mgmt: error", err)
	}
}
