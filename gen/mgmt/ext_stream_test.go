package mgmt_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/status"
)

// Stream status, Ready, deadlines, cancellation and metadata through the
// generated client and server (docs/wire.md, "Extensions").

// On an extended connection a stream that fails ends with its error and
// code: Recv returns it after the frames sent, All yields it; a stream whose
// handler returns nil ends with io.EOF. On a legacy server the same failure
// looks like a clean end (the base protocol has no status).
func TestExtStreamStatus(t *testing.T) {
	noLeaks(t)
	h := &handler{events: func(_ context.Context, r *mgmt.EventsSubscribePayload, out mgmt.EventsSender) error {
		if err := out.Send(&mgmt.EventsStreamPayload{ProcessID: "a", Type: "process.started"}); err != nil {
			return err
		}
		if len(r.ProcessIDs) > 0 {
			return status.Errorf(status.NotFound, "no process %s", r.ProcessIDs[0])
		}
		return nil
	}}
	_, path, _ := startServer(t, h)
	_, legacy, _ := startServer(t, h, func(o *mgmt.ServerOptions) { o.Legacy = true })
	ctx := testCtx(t)
	collect := func(path string, ids ...string) (n int, last error) {
		s, err := dial(t, path).Events(ctx, &mgmt.EventsSubscribePayload{ProcessIDs: ids})
		if err != nil {
			t.Fatalf("Events: %v", err)
		}
		for p, err := range s.All() {
			if err != nil {
				return n, err
			}
			if p.ProcessID != "a" {
				t.Errorf("frame %+v", p)
			}
			n++
		}
		return n, nil
	}
	if n, err := collect(path, "zz"); n != 1 || status.CodeOf(err) != status.NotFound || err.Error() != "Events: no process zz" {
		t.Errorf("failed stream: %d frames, then %v; want 1 and NotFound", n, err)
	}
	if n, err := collect(path); n != 1 || err != nil {
		t.Errorf("complete stream: %d frames, then %v; want 1 and a clean end", n, err)
	}
	if n, err := collect(legacy, "zz"); n != 1 || err != nil {
		t.Errorf("legacy server: %d frames, then %v; want 1 and an end without status", n, err)
	}
	// Recv itself: the error after the frame, then the same error again.
	s, err := dial(t, path).Events(ctx, &mgmt.EventsSubscribePayload{ProcessIDs: []string{"zz"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := s.Recv(); status.CodeOf(err) != status.NotFound || errors.Is(err, io.EOF) {
			t.Errorf("Recv after a failed stream's frames = %v, want NotFound", err)
		}
	}
}

// hub is a subscription list: publish reaches the subscribers in place at
// that moment.
type hub struct {
	mu   sync.Mutex
	subs []chan string
}

func (h *hub) subscribe() chan string {
	ch := make(chan string, 1)
	h.mu.Lock()
	h.subs = append(h.subs, ch)
	h.mu.Unlock()
	return ch
}

func (h *hub) publish(ev string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ch := range h.subs {
		ch <- ev
	}
	return len(h.subs)
}

// Events returns once the handler said Ready: an event published the
// moment it returns reaches the client, though the handler takes its time
// to subscribe.
func TestExtReady(t *testing.T) {
	noLeaks(t)
	var events hub
	h := &handler{events: func(ctx context.Context, _ *mgmt.EventsSubscribePayload, out mgmt.EventsSender) error {
		time.Sleep(50 * time.Millisecond) // a slow subscription: without Ready the client would be ahead of it
		ch := events.subscribe()
		if err := out.Ready(); err != nil {
			return err
		}
		select {
		case ev := <-ch:
			return out.Send(&mgmt.EventsStreamPayload{Type: ev})
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
	_, path, _ := startServer(t, h)
	ctx := testCtx(t)
	s, err := dial(t, path).Events(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := events.publish("process.started"); n != 1 {
		t.Fatalf("Events returned before the subscription was live (%d subscribers)", n)
	}
	if p, err := s.Recv(); err != nil || p.Type != "process.started" {
		t.Errorf("Recv = %+v, %v", p, err)
	}
	if _, err := s.Recv(); err != io.EOF {
		t.Errorf("after the handler returned: %v, want io.EOF", err)
	}
}

// A call's deadline and metadata reach the handler's context, from the
// connection's first call on.
func TestExtDeadlineAndMetadata(t *testing.T) {
	noLeaks(t)
	type seen struct {
		left time.Duration
		ok   bool
		md   map[string]string
	}
	got := make(chan seen, 2)
	h := &handler{status: func(ctx context.Context, _ *mgmt.StatusRequestPayload) (*mgmt.StatusResponsePayload, error) {
		d, ok := ctx.Deadline()
		got <- seen{time.Until(d), ok, server.Metadata(ctx)}
		return &mgmt.StatusResponsePayload{}, nil
	}}
	_, path, _ := startServer(t, h)
	c := dial(t, path)
	ctx, cancel := context.WithTimeout(client.WithMetadata(client.WithMetadata(context.Background(), "rid", "42"), "trace", "t-1"), 30*time.Second)
	defer cancel()
	if _, err := c.Status(ctx, &mgmt.StatusRequestPayload{ID: "web"}); err != nil {
		t.Fatal(err)
	}
	s := recv(t, got, "the handler")
	if !s.ok || s.left <= 25*time.Second || s.left > 30*time.Second || s.md["rid"] != "42" || s.md["trace"] != "t-1" || len(s.md) != 2 {
		t.Errorf("handler saw deadline %v (%v), metadata %v; want about 30 s and rid=42 trace=t-1", s.left, s.ok, s.md)
	}
	if _, err := c.Status(context.Background(), &mgmt.StatusRequestPayload{ID: "web"}); err != nil {
		t.Fatal(err)
	}
	if s := recv(t, got, "the handler"); s.ok || s.md != nil {
		t.Errorf("a call without deadline or metadata: the handler saw %+v", s)
	}
	big := context.Background()
	for i := range 65 {
		big = client.WithMetadata(big, strings.Repeat("k", i+1), "")
	}
	if _, err := c.Status(big, &mgmt.StatusRequestPayload{ID: "web"}); err == nil || !strings.Contains(err.Error(), "65 pairs, over the limit 64") {
		t.Errorf("65 pairs of metadata: %v", err)
	}
}

// Cancelling a call's context ends its handler's context on the server,
// and a deadline does so when it passes; the connection goes on.
func TestExtCancel(t *testing.T) {
	noLeaks(t)
	entered := make(chan struct{}, 1)
	ended := make(chan error, 1)
	h := &handler{status: func(ctx context.Context, _ *mgmt.StatusRequestPayload) (*mgmt.StatusResponsePayload, error) {
		entered <- struct{}{}
		select {
		case <-ctx.Done():
			ended <- ctx.Err()
			return nil, ctx.Err()
		case <-time.After(waitFor):
			ended <- nil
			return &mgmt.StatusResponsePayload{}, nil
		}
	}}
	_, path, _ := startServer(t, h)
	c := dial(t, path)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Status(ctx, &mgmt.StatusRequestPayload{ID: "web"})
		errc <- err
	}()
	recv(t, entered, "the handler")
	cancel()
	if err := recv(t, errc, "the call"); !errors.Is(err, context.Canceled) {
		t.Errorf("the call: %v, want context.Canceled", err)
	}
	if err := recv(t, ended, "the handler's end"); !errors.Is(err, context.Canceled) {
		t.Errorf("the handler's context: %v, want Canceled", err)
	}
	dctx, dcancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer dcancel()
	go func() {
		_, err := c.Status(dctx, &mgmt.StatusRequestPayload{ID: "web"})
		errc <- err
	}()
	recv(t, entered, "the handler")
	if err := recv(t, ended, "the handler's end"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("the handler's context: %v, want DeadlineExceeded", err)
	}
	if err := recv(t, errc, "the call"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("the call: %v, want DeadlineExceeded", err)
	}
	if err := c.Conn().Ping(context.Background()); err != nil {
		t.Errorf("the connection after the cancels: %v", err)
	}
}

// server.Extended tells a handler which protocol its caller speaks.
func TestExtExtendedInHandler(t *testing.T) {
	noLeaks(t)
	got := make(chan bool, 1)
	h := &handler{list: func(ctx context.Context) (*mgmt.ListResponsePayload, error) {
		got <- server.Extended(ctx)
		return &mgmt.ListResponsePayload{}, nil
	}}
	_, path, _ := startServer(t, h)
	for _, legacy := range []bool{false, true} {
		if _, err := dialOptions(t, path, mgmt.ClientOptions{Legacy: legacy}).List(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		if ext := recv(t, got, "the handler"); ext == legacy {
			t.Errorf("Legacy %v: server.Extended = %v", legacy, ext)
		}
	}
}
