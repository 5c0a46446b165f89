package mgmt_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/server"
)

// MaxPayload refuses a larger request frame before reading it.
func TestMaxPayload(t *testing.T) {
	noLeaks(t)
	_, path, _ := startServer(t, fullHandler(nil), func(o *mgmt.ServerOptions) { o.MaxPayload = 64 })
	c := rawDial(t, path)
	c.readAnswer(c.send(mgmt.MsgStatusRequest, wIDRequest{ID: strings.Repeat("x", 50)}), mgmt.MsgStatusResponse, &wStatusResponse{})
	c.send(mgmt.MsgStatusRequest, wIDRequest{ID: strings.Repeat("x", 100)})
	if h, _, err := c.fr.ReadFrame(); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("oversized request: %+v, %v; want the connection closed", h, err)
	}
}

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
