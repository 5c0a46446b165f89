package mgmt_test

// Every unary call through the generated Client and Server: answers, remote errors (with and
// without an error field), UnimplementedHandler, the untyped Call, concurrency, deadlines.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/status"
)

// fullHandler answers every call: List lists a and b, Status/Start/Stop
// echo the id (unknown id "nope" fails), Logs sends "snapshot" and then, when
// following, every chunk put on chunks; Events sends one event per id asked.
func fullHandler(chunks <-chan string) *handler {
	unary := func(id, state string) (*mgmt.StatusResponsePayload, error) {
		if id == "nope" {
			return nil, fmt.Errorf("no process %q", id)
		}
		e := entry(id)
		e.State = state
		return &mgmt.StatusResponsePayload{Entry: e}, nil
	}
	return &handler{
		list: func(context.Context) (*mgmt.ListResponsePayload, error) {
			return &mgmt.ListResponsePayload{Entries: []mgmt.ListEntry{entry("a"), entry("b")}}, nil
		},
		status: func(_ context.Context, r *mgmt.StatusRequestPayload) (*mgmt.StatusResponsePayload, error) {
			return unary(r.ID, "running")
		},
		start: func(_ context.Context, r *mgmt.StartRequestPayload) (*mgmt.StatusResponsePayload, error) {
			return unary(r.ID, "starting")
		},
		stop: func(_ context.Context, r *mgmt.StopRequestPayload) (*mgmt.StatusResponsePayload, error) {
			return unary(r.ID, "stopped")
		},
		logs: func(ctx context.Context, r *mgmt.LogsRequestPayload, out mgmt.LogsSender) error {
			snap := &mgmt.LogsStreamPayload{ID: r.ID, Stream: r.Stream, Data: []byte("snapshot"), EOF: !r.Follow}
			if err := out.Send(snap); err != nil || !r.Follow {
				return err
			}
			for {
				select {
				case c := <-chunks:
					if err := out.Send(&mgmt.LogsStreamPayload{ID: r.ID, Stream: r.Stream, Data: []byte(c)}); err != nil {
						return err
					}
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		},
		events: func(_ context.Context, r *mgmt.EventsSubscribePayload, out mgmt.EventsSender) error {
			for i, id := range r.ProcessIDs {
				ev := &mgmt.EventsStreamPayload{ProcessID: id, Type: "process.started", Timestamp: int64(i + 1), Summary: "up"}
				if err := out.Send(ev); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

func TestEveryCall(t *testing.T) {
	noLeaks(t)
	chunks := make(chan string)
	_, path, _ := startServer(t, fullHandler(chunks))
	c := dial(t, path)
	ctx := testCtx(t)

	list, err := c.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if want := []mgmt.ListEntry{entry("a"), entry("b")}; !reflect.DeepEqual(list.Entries, want) {
		t.Errorf("List = %+v, want %+v", list.Entries, want)
	}
	calls := []struct {
		name  string
		call  func(id string) (*mgmt.StatusResponsePayload, error)
		state string
	}{
		{"Status", func(id string) (*mgmt.StatusResponsePayload, error) {
			return c.Status(ctx, &mgmt.StatusRequestPayload{ID: id})
		}, "running"},
		{"Start", func(id string) (*mgmt.StatusResponsePayload, error) {
			return c.Start(ctx, &mgmt.StartRequestPayload{ID: id})
		}, "starting"},
		{"Stop", func(id string) (*mgmt.StatusResponsePayload, error) {
			return c.Stop(ctx, &mgmt.StopRequestPayload{ID: id})
		}, "stopped"},
	}
	for _, tc := range calls {
		resp, err := tc.call("web")
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		want := entry("web")
		want.State = tc.state
		if resp.Entry != want || resp.Err != "" {
			t.Errorf("%s = %+v, want entry %+v", tc.name, resp, want)
		}
		resp, err = tc.call("nope")
		var re *client.RemoteError
		if !errors.As(err, &re) || re.Method != tc.name || re.Text != `no process "nope"` {
			t.Errorf("%s(nope) error = %v, want RemoteError %s: no process \"nope\"", tc.name, err, tc.name)
		}
		// An extended connection: an error frame (code Unknown for a plain
		// error), no response; TestHandlerErrorKeepsPayload has the legacy form.
		if resp != nil || re == nil || re.Code != status.Unknown {
			t.Errorf("%s(nope) = %+v, %#v; want no response and a RemoteError of code Unknown", tc.name, resp, err)
		}
	}
	checkLogsSnapshot(t, ctx, c)
	checkLogsFollow(t, ctx, c, chunks)
	checkEvents(t, ctx, c)
}

func checkLogsSnapshot(t *testing.T, ctx context.Context, c *mgmt.Client) {
	t.Helper()
	s, err := c.Logs(ctx, &mgmt.LogsRequestPayload{ID: "web", Stream: 1})
	if err != nil {
		t.Fatalf("Logs: %v", err)
	}
	defer s.Close()
	p, err := s.Recv()
	if err != nil {
		t.Fatalf("Logs snapshot Recv: %v", err)
	}
	want := mgmt.LogsStreamPayload{ID: "web", Stream: 1, Data: []byte("snapshot"), EOF: true}
	if !reflect.DeepEqual(*p, want) {
		t.Errorf("snapshot = %+v, want %+v", *p, want)
	}
	if p, err := s.Recv(); err != io.EOF {
		t.Errorf("Recv after the EOF frame = %+v, %v; want io.EOF", p, err)
	}
}

func checkLogsFollow(t *testing.T, ctx context.Context, c *mgmt.Client, chunks chan<- string) {
	t.Helper()
	s, err := c.Logs(ctx, &mgmt.LogsRequestPayload{ID: "web", Follow: true})
	if err != nil {
		t.Fatalf("Logs follow: %v", err)
	}
	defer s.Close()
	p, err := s.Recv()
	if err != nil || string(p.Data) != "snapshot" || p.EOF {
		t.Fatalf("follow snapshot = %+v, %v; want snapshot with EOF false", p, err)
	}
	for i := range 3 {
		want := fmt.Sprintf("chunk %d\n", i)
		select {
		case chunks <- want:
		case <-time.After(waitFor):
			t.Fatal("Logs handler does not take chunks")
		}
		p, err := s.Recv()
		if err != nil || string(p.Data) != want || p.EOF || p.ID != "web" {
			t.Fatalf("follow frame %d = %+v, %v; want %q", i, p, err, want)
		}
	}
}

func checkEvents(t *testing.T, ctx context.Context, c *mgmt.Client) {
	t.Helper()
	s, err := c.Events(ctx, &mgmt.EventsSubscribePayload{ProcessIDs: []string{"a", "b"}})
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	var got []string
	for ev, err := range s.All() {
		if err != nil {
			t.Fatalf("Events: %v", err)
		}
		got = append(got, fmt.Sprintf("%s %s %d %s", ev.ProcessID, ev.Type, ev.Timestamp, ev.Summary))
	}
	want := []string{"a process.started 1 up", "b process.started 2 up"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("events = %q, want %q", got, want)
	}
}

// A handler error on a call with an error field comes back in the field,
// together with whatever payload the handler returned.
func TestHandlerErrorKeepsPayload(t *testing.T) {
	noLeaks(t)
	h := &handler{status: func(_ context.Context, r *mgmt.StatusRequestPayload) (*mgmt.StatusResponsePayload, error) {
		return &mgmt.StatusResponsePayload{Entry: entry(r.ID)}, errors.New("process is wedged")
	}}
	_, path, _ := startServer(t, h)
	c := dialLegacy(t, path) // the base protocol's answers; ext_test.go has the extended ones
	resp, err := c.Status(testCtx(t), &mgmt.StatusRequestPayload{ID: "db"})
	var re *client.RemoteError
	if !errors.As(err, &re) || re.Text != "process is wedged" || re.Method != "Status" {
		t.Fatalf("Status error = %#v, want RemoteError Status/process is wedged", err)
	}
	if err.Error() != "Status: process is wedged" {
		t.Errorf("error text = %q", err.Error())
	}
	if resp == nil || resp.Entry != entry("db") || resp.Err != "process is wedged" {
		t.Errorf("Status response = %+v, want entry db with Err", resp)
	}
}

// UnimplementedHandler answers ErrNotImplemented, "mgmt: not implemented"
// of code Unimplemented; on an extended connection the client's error
// matches the sentinel (errors.Is), on a legacy one only the text travels.
func TestUnimplemented(t *testing.T) {
	noLeaks(t)
	_, path, _ := startServer(t, mgmt.UnimplementedHandler{})
	c := dial(t, path)
	ctx := testCtx(t)
	unary := map[string]func() error{
		"List":   func() error { _, err := c.List(ctx); return err },
		"Status": func() error { _, err := c.Status(ctx, nil); return err },
		"Start":  func() error { _, err := c.Start(ctx, &mgmt.StartRequestPayload{ID: "x"}); return err },
		"Stop":   func() error { _, err := c.Stop(ctx, &mgmt.StopRequestPayload{ID: "x"}); return err },
	}
	for name, call := range unary {
		err := call()
		var re *client.RemoteError
		want := mgmt.ErrNotImplemented.Error()
		if !errors.As(err, &re) || re.Text != want || re.Method != name || re.Code != status.Unimplemented {
			t.Errorf("%s: error = %v, want RemoteError with %q", name, err, want)
		}
		if !errors.Is(err, mgmt.ErrNotImplemented) || err.Error() != name+": mgmt: not implemented" {
			t.Errorf("%s: error %q does not match ErrNotImplemented across the socket", name, err)
		}
	}
	// Server side, the handler's error wraps the sentinel.
	if _, err := (mgmt.UnimplementedHandler{}).Status(ctx, nil); !errors.Is(err, mgmt.ErrNotImplemented) {
		t.Errorf("UnimplementedHandler.Status error %v does not match ErrNotImplemented", err)
	}
}

// A handler error on a call without an error field (List) is answered with
// the protocol's error response, which the client turns into a RemoteError.
func TestListErrorIsErrorResponse(t *testing.T) {
	noLeaks(t)
	h := &handler{list: func(context.Context) (*mgmt.ListResponsePayload, error) {
		return nil, errors.New("supervisor is shutting down")
	}}
	_, path, _ := startServer(t, h)
	c := dialLegacy(t, path) // the base protocol's answers; ext_test.go has the extended ones
	_, err := c.List(testCtx(t))
	var re *client.RemoteError
	if !errors.As(err, &re) || re.Text != "supervisor is shutting down" || re.Method != "List" {
		t.Fatalf("List error = %v, want RemoteError List/supervisor is shutting down", err)
	}
	// On the wire: a 0xA3 frame with Err, answering the request's seq.
	hdr, body, err := c.Call(mgmt.MsgListRequest, nil)
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	var p mgmt.StatusResponsePayload
	if err := ipc.DecodePayload(body, &p); hdr.MsgType != mgmt.MsgStatusResponse || err != nil || p.Err != "supervisor is shutting down" {
		t.Errorf("raw answer = %s %+v (%v), want 0xa3 with the handler's text", hdr.MsgType, p, err)
	}
	// The same with a context; an ended one fails before sending.
	hdr, body, err = c.CallContext(testCtx(t), mgmt.MsgListRequest, nil)
	if err != nil || hdr.MsgType != mgmt.MsgStatusResponse || hdr.SeqNo != 3 || ipc.DecodePayload(body, &p) != nil {
		t.Errorf("CallContext = %+v, %v", hdr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := c.CallContext(ctx, mgmt.MsgListRequest, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("CallContext with an ended context = %v", err)
	}
}

// A server needs a handler: NewServer without one fails with an error of
// this package.
func TestNewServerNeedsHandler(t *testing.T) {
	_, err := mgmt.NewServer(mgmt.ServerOptions{SocketPath: sockPath(t)})
	if err == nil || !strings.HasPrefix(err.Error(), "mgmt: ") {
		t.Errorf("NewServer without a handler = %v, want an mgmt: error", err)
	}
}
