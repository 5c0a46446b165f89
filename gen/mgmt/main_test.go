package mgmt_test

// TestMain and the helpers this package's tests share. The tests drive the
// generated package end to end: the generated Client and Server over real
// Unix sockets, and raw cliwrap-style frames encoded by the reflection codec
// cliwrap uses. The runtime's own behaviour is tested in runtime/server and
// runtime/client, on servertest's protocol.

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitFor bounds every wait on a channel in these tests.
const waitFor = 5 * time.Second

// prompt is how soon a cancellation or deadline must take effect.
const prompt = 2 * time.Second

// noLeaks checks, after the test's other cleanups (servers closed, clients
// closed), that it left no goroutine behind. Call it first.
var noLeaks = servertest.LeakCheck

// handler is a mgmt.Handler whose methods are set per test; an unset method
// answers as mgmt.UnimplementedHandler does.
type handler struct {
	mgmt.UnimplementedHandler
	list   func(context.Context) (*mgmt.ListResponsePayload, error)
	status func(context.Context, *mgmt.StatusRequestPayload) (*mgmt.StatusResponsePayload, error)
	start  func(context.Context, *mgmt.StartRequestPayload) (*mgmt.StatusResponsePayload, error)
	stop   func(context.Context, *mgmt.StopRequestPayload) (*mgmt.StatusResponsePayload, error)
	logs   func(context.Context, *mgmt.LogsRequestPayload, mgmt.LogsSender) error
	events func(context.Context, *mgmt.EventsSubscribePayload, mgmt.EventsSender) error
}

func (h *handler) List(ctx context.Context) (*mgmt.ListResponsePayload, error) {
	if h.list == nil {
		return h.UnimplementedHandler.List(ctx)
	}
	return h.list(ctx)
}

func (h *handler) Status(ctx context.Context, req *mgmt.StatusRequestPayload) (*mgmt.StatusResponsePayload, error) {
	if h.status == nil {
		return h.UnimplementedHandler.Status(ctx, req)
	}
	return h.status(ctx, req)
}

func (h *handler) Start(ctx context.Context, req *mgmt.StartRequestPayload) (*mgmt.StatusResponsePayload, error) {
	if h.start == nil {
		return h.UnimplementedHandler.Start(ctx, req)
	}
	return h.start(ctx, req)
}

func (h *handler) Stop(ctx context.Context, req *mgmt.StopRequestPayload) (*mgmt.StatusResponsePayload, error) {
	if h.stop == nil {
		return h.UnimplementedHandler.Stop(ctx, req)
	}
	return h.stop(ctx, req)
}

func (h *handler) Logs(ctx context.Context, req *mgmt.LogsRequestPayload, out mgmt.LogsSender) error {
	if h.logs == nil {
		return h.UnimplementedHandler.Logs(ctx, req, out)
	}
	return h.logs(ctx, req, out)
}

func (h *handler) Events(ctx context.Context, req *mgmt.EventsSubscribePayload, out mgmt.EventsSender) error {
	if h.events == nil {
		return h.UnimplementedHandler.Events(ctx, req, out)
	}
	return h.events(ctx, req, out)
}

// logBuffer collects a server's slog output.
type logBuffer = servertest.LogBuffer

// sockPath returns a fresh socket path in a test directory.
func sockPath(t *testing.T) string {
	return filepath.Join(t.TempDir(), "mgmt.sock")
}

// startServer starts a generated server for h on a fresh socket and closes
// it when the test ends. opts, if given, adjusts the options first; the
// server logs to the returned buffer.
func startServer(t *testing.T, h mgmt.Handler, opts ...func(*mgmt.ServerOptions)) (*mgmt.Server, string, *logBuffer) {
	t.Helper()
	logs := new(logBuffer)
	o := mgmt.ServerOptions{SocketPath: sockPath(t), Handler: h, Logger: logs.Logger()}
	for _, f := range opts {
		f(&o)
	}
	srv, err := mgmt.NewServer(o)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("server Close: %v", err)
		}
	})
	return srv, o.SocketPath, logs
}

// dial connects a generated client to path and closes it when the test ends.
func dial(t *testing.T, path string) *mgmt.Client {
	t.Helper()
	return dialOptions(t, path, mgmt.ClientOptions{})
}

// dialLegacy dials without the hello: the connection speaks the base
// protocol only, as a cliwrap client's does.
func dialLegacy(t *testing.T, path string) *mgmt.Client {
	t.Helper()
	return dialOptions(t, path, mgmt.ClientOptions{Legacy: true})
}

func dialOptions(t *testing.T, path string, opts mgmt.ClientOptions) *mgmt.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	c, err := mgmt.DialOptions(ctx, path, opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// testCtx is a context bounding one test step.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return ctx
}

// recv waits for a value on ch, failing the test after waitFor.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitFor):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// within waits for ch to deliver within d, failing the test otherwise.
func within[T any](t *testing.T, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("%s did not happen within %v", what, d)
		panic("unreachable")
	}
}

// entry is the ListEntry the test handlers report for id.
func entry(id string) mgmt.ListEntry {
	return mgmt.ListEntry{ID: id, Name: "name-" + id, State: "running", ChildPID: 4242, RSS: 1 << 20}
}
