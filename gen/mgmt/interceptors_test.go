package mgmt_test

// Server and client interceptors on the generated calls: the CallInfo and typed requests they see.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/server"
)

// Server interceptors see the call and its typed request, and can refuse.
func TestServerInterceptors(t *testing.T) {
	noLeaks(t)
	var served atomic.Int32
	h := fullHandler(nil)
	h.status = func(_ context.Context, r *mgmt.StatusRequestPayload) (*mgmt.StatusResponsePayload, error) {
		served.Add(1)
		return &mgmt.StatusResponsePayload{Entry: entry(r.ID)}, nil
	}
	var mu sync.Mutex
	var seen []string
	unary := func(ctx context.Context, req any, info *server.CallInfo, next server.UnaryHandler) (any, error) {
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s %s %s %T", info.Protocol, info.Method, info.Request, req))
		mu.Unlock()
		if r, ok := req.(*mgmt.StatusRequestPayload); ok && r.ID == "forbidden" {
			return nil, errors.New("refused by interceptor")
		}
		return next(ctx, req)
	}
	stream := func(ctx context.Context, req any, s *server.Stream, info *server.CallInfo, next server.StreamHandler) error {
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s %s %s %T", info.Protocol, info.Method, info.Request, req))
		mu.Unlock()
		if r, ok := req.(*mgmt.LogsRequestPayload); ok && r.ID == "forbidden" {
			return errors.New("stream refused by interceptor")
		}
		return next(ctx, req, s)
	}
	_, path, _ := startServer(t, h, func(o *mgmt.ServerOptions) {
		o.UnaryInterceptors = []server.UnaryInterceptor{unary}
		o.StreamInterceptors = []server.StreamInterceptor{stream}
	})
	c := dial(t, path)
	ctx := testCtx(t)
	if resp, err := c.Status(ctx, &mgmt.StatusRequestPayload{ID: "ok"}); err != nil || resp.Entry.ID != "ok" {
		t.Fatalf("Status through the interceptor = %+v, %v", resp, err)
	}
	_, err := c.Status(ctx, &mgmt.StatusRequestPayload{ID: "forbidden"})
	var re *client.RemoteError
	if !errors.As(err, &re) || re.Text != "refused by interceptor" {
		t.Errorf("refused Status = %v, want RemoteError with the interceptor's text", err)
	}
	if _, err := c.List(ctx); err != nil {
		t.Fatalf("List through the interceptor: %v", err)
	}
	checkLogsSnapshot(t, ctx, c)
	s, err := c.Logs(ctx, &mgmt.LogsRequestPayload{ID: "forbidden"})
	if err != nil {
		t.Fatalf("Logs: %v", err)
	}
	if p, err := s.Recv(); err == nil {
		t.Errorf("refused Logs stream sent %+v", p)
	}
	s.Close()
	if n := served.Load(); n != 1 {
		t.Errorf("Status handler served %d calls, want 1", n)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{
		"mgmt Status 0xa2 *mgmt.StatusRequestPayload",
		"mgmt Status 0xa2 *mgmt.StatusRequestPayload",
		"mgmt List 0xa0 <nil>",
		"mgmt Logs 0xa4 *mgmt.LogsRequestPayload",
		"mgmt Logs 0xa4 *mgmt.LogsRequestPayload",
	}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Errorf("interceptors saw\n%s\nwant\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
}

// Client interceptors (ClientOptions via DialOptions) see the call and its
// typed request, and can refuse it before it is sent.
func TestClientInterceptors(t *testing.T) {
	noLeaks(t)
	var served atomic.Int32
	h := fullHandler(nil)
	h.stop = func(_ context.Context, r *mgmt.StopRequestPayload) (*mgmt.StatusResponsePayload, error) {
		served.Add(1)
		return &mgmt.StatusResponsePayload{Entry: entry(r.ID)}, nil
	}
	_, path, _ := startServer(t, h)
	var seen []string // the test goroutine makes every call
	refused := errors.New("refused by client interceptor")
	unary := func(ctx context.Context, info *client.CallInfo, req msgp.Marshaler, resp msgp.Unmarshaler, next client.Invoker) error {
		seen = append(seen, fmt.Sprintf("%s %s %s %T %T", info.Method, info.Request, info.Response, req, resp))
		if r, ok := req.(*mgmt.StopRequestPayload); ok && r.ID == "forbidden" {
			return refused
		}
		return next(ctx, req, resp)
	}
	stream := func(ctx context.Context, info *client.CallInfo, req msgp.Marshaler, next client.Streamer) (*client.Stream, error) {
		seen = append(seen, fmt.Sprintf("%s %s %s %T", info.Method, info.Request, info.Response, req))
		if r, ok := req.(*mgmt.LogsRequestPayload); ok && r.ID == "forbidden" {
			return nil, refused
		}
		return next(ctx, req)
	}
	c := dialOptions(t, path, mgmt.ClientOptions{
		UnaryInterceptors:  []client.UnaryInterceptor{unary},
		StreamInterceptors: []client.StreamInterceptor{stream},
	})
	ctx := testCtx(t)
	if resp, err := c.Stop(ctx, &mgmt.StopRequestPayload{ID: "ok"}); err != nil || resp.Entry.ID != "ok" {
		t.Fatalf("Stop through the interceptor = %+v, %v", resp, err)
	}
	if _, err := c.Stop(ctx, &mgmt.StopRequestPayload{ID: "forbidden"}); !errors.Is(err, refused) {
		t.Errorf("refused Stop = %v, want the interceptor's error", err)
	}
	if _, err := c.List(ctx); err != nil {
		t.Fatalf("List: %v", err)
	}
	checkLogsSnapshot(t, ctx, c)
	if s, err := c.Logs(ctx, &mgmt.LogsRequestPayload{ID: "forbidden"}); !errors.Is(err, refused) {
		t.Errorf("refused Logs = %v, %v; want the interceptor's error", s, err)
	}
	if n := served.Load(); n != 1 {
		t.Errorf("Stop handler served %d calls, want 1", n)
	}
	want := []string{
		"Stop 0xa9 0xa3 *mgmt.StopRequestPayload *mgmt.StatusResponsePayload",
		"Stop 0xa9 0xa3 *mgmt.StopRequestPayload *mgmt.StatusResponsePayload",
		"List 0xa0 0xa1 <nil> *mgmt.ListResponsePayload",
		"Logs 0xa4 0xa5 *mgmt.LogsRequestPayload",
		"Logs 0xa4 0xa5 *mgmt.LogsRequestPayload",
	}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Errorf("interceptors saw\n%s\nwant\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
}
