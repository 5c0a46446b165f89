package mgmt_test

// The schema's limits (max_len, max_items) and the frame limit on the generated answers.

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server"
)

// The schema's limits hold on the way out: a List of 65,537 entries
// (max_items 65,536) is not sent, where every client would reject it; the
// caller gets a RemoteError naming the field and the limit. A Logs frame
// whose ID is over max_len is refused the same way, ending the stream.
func TestOutgoingLimits(t *testing.T) {
	noLeaks(t)
	h := fullHandler(nil)
	entries := 65537
	var mu sync.Mutex
	h.list = func(context.Context) (*mgmt.ListResponsePayload, error) {
		mu.Lock()
		defer mu.Unlock()
		return &mgmt.ListResponsePayload{Entries: make([]mgmt.ListEntry, entries)}, nil
	}
	sendErr := make(chan error, 1)
	h.logs = func(_ context.Context, r *mgmt.LogsRequestPayload, out mgmt.LogsSender) error {
		err := out.Send(&mgmt.LogsStreamPayload{ID: strings.Repeat("p", 4097), EOF: true})
		sendErr <- err
		return err
	}
	_, path, logs := startServer(t, h)
	c := dial(t, path)
	_, err := c.List(testCtx(t))
	var re *client.RemoteError
	if !errors.As(err, &re) || !strings.Contains(re.Text, "field Entries has 65537 items, over the schema's max_items 65536") {
		t.Fatalf("List of 65537 entries = %v, want a RemoteError naming Entries and max_items", err)
	}
	if !strings.Contains(logs.String(), "field=Entries limit=max_items max=65536 got=65537") {
		t.Errorf("refusal not logged:\n%s", logs.String())
	}
	mu.Lock()
	entries = 65536
	mu.Unlock()
	// 65,536 entries are 1.8 MB each way, slow under -race on a loaded
	// machine: a generous deadline (the client honours it mid-frame).
	bigCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if resp, err := c.List(bigCtx); err != nil || len(resp.Entries) != 65536 {
		t.Fatalf("List at the limit: %v", err)
	}

	s, err := c.Logs(testCtx(t), &mgmt.LogsRequestPayload{ID: "w"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Recv(); err == nil {
		t.Fatal("Logs frame over max_len was received")
	}
	var le *server.LimitError
	if err := <-sendErr; !errors.As(err, &le) || le.Field != "ID" || le.Max != 4096 {
		t.Fatalf("Send = %v, want a *server.LimitError for ID", err)
	}
}

// Frames up to the 16 MiB limit travel; a larger stream frame fails its Send
// with ipc.ErrFrameTooLarge and the stream goes on; a unary response over a
// schema limit is answered with an error naming the field and the limit, and
// one within the schema's limits but over the frame limit with an error
// saying it is too large.
func TestLargePayloads(t *testing.T) {
	noLeaks(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), (int(ipc.MaxPayloadSize)-64)/16)
	sendErr := make(chan error, 1)
	h := fullHandler(nil)
	h.logs = func(_ context.Context, r *mgmt.LogsRequestPayload, out mgmt.LogsSender) error {
		if err := out.Send(&mgmt.LogsStreamPayload{ID: r.ID, Data: big}); err != nil {
			return err
		}
		sendErr <- out.Send(&mgmt.LogsStreamPayload{ID: r.ID, Data: make([]byte, ipc.MaxPayloadSize)})
		return out.Send(&mgmt.LogsStreamPayload{ID: r.ID, Data: []byte("end"), EOF: true})
	}
	var withinFields atomic.Bool
	h.list = func(context.Context) (*mgmt.ListResponsePayload, error) {
		if !withinFields.Load() {
			return &mgmt.ListResponsePayload{Entries: []mgmt.ListEntry{{Name: strings.Repeat("n", int(ipc.MaxPayloadSize))}}}, nil
		}
		// 17 names of 1 MiB each: every field within max_len, the frame over 16 MiB.
		name := strings.Repeat("n", 1<<20)
		entries := make([]mgmt.ListEntry, 17)
		for i := range entries {
			entries[i].Name = name
		}
		return &mgmt.ListResponsePayload{Entries: entries}, nil
	}
	_, path, logs := startServer(t, h)
	c := dial(t, path)
	// 16 MiB frames under -race on a loaded 2-core machine take seconds:
	// a bound far above testCtx's.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	s, err := c.Logs(ctx, &mgmt.LogsRequestPayload{ID: "w"})
	if err != nil {
		t.Fatalf("Logs: %v", err)
	}
	defer s.Close()
	p, err := s.Recv()
	if err != nil {
		t.Fatalf("large frame: %v", err)
	}
	if !bytes.Equal(p.Data, big) {
		t.Fatalf("large frame: %d bytes, want %d", len(p.Data), len(big))
	}
	select {
	case err := <-sendErr:
		if !errors.Is(err, ipc.ErrFrameTooLarge) {
			t.Errorf("oversized Send = %v, want ipc.ErrFrameTooLarge", err)
		}
	case <-ctx.Done():
		t.Fatal("timed out waiting for the oversized Send")
	}
	if p, err = s.Recv(); err != nil || string(p.Data) != "end" || !p.EOF {
		t.Errorf("frame after the oversized one = %+v, %v", p, err)
	}

	_, err = c.List(ctx)
	var re *client.RemoteError
	if !errors.As(err, &re) || !strings.Contains(re.Text, "field Entries[0].Name has 16777216 bytes, over the schema's max_len 1048576") {
		t.Errorf("List response over max_len = %v, want a RemoteError naming the field and limit", err)
	}
	if !strings.Contains(logs.String(), "answer over the schema's limits not sent") {
		t.Errorf("limit refusal not logged:\n%s", logs.String())
	}
	withinFields.Store(true)
	_, err = c.List(ctx)
	if !errors.As(err, &re) || !strings.Contains(re.Text, "too large") {
		t.Errorf("oversized List response = %v, want a RemoteError saying it is too large", err)
	}
	if !strings.Contains(logs.String(), "cannot encode response") {
		t.Errorf("encode failure not logged:\n%s", logs.String())
	}
	if _, err := c.Status(ctx, &mgmt.StatusRequestPayload{ID: "after"}); err != nil {
		t.Errorf("Status after an oversized response: %v", err)
	}
}
