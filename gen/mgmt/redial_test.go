package mgmt_test

import (
	"testing"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
)

// TestGeneratedClientRedials: the generated Client holds a client.Redialer.
// Its server restarts on the same path; the next typed call reaches the new
// server on a new connection, and a stream opens there too.
func TestGeneratedClientRedials(t *testing.T) {
	noLeaks(t)
	srv, path, _ := startServer(t, fullHandler(nil))
	c := dial(t, path)
	ctx := testCtx(t)
	if _, err := c.List(ctx); err != nil {
		t.Fatal(err)
	}
	first := c.Conn()
	if err := srv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	startServer(t, fullHandler(nil), func(o *mgmt.ServerOptions) { o.SocketPath = path })
	st, err := c.Status(ctx, &mgmt.StatusRequestPayload{ID: "w"})
	if err != nil || st.Entry.ID != "w" {
		t.Fatalf("Status after the restart: %+v, %v", st, err)
	}
	if c.Conn() == first {
		t.Error("Conn() is still the connection the old server closed")
	}
	s, err := c.Logs(ctx, &mgmt.LogsRequestPayload{ID: "w"})
	if err != nil {
		t.Fatalf("Logs after the restart: %v", err)
	}
	defer s.Close()
	if _, err := s.Recv(); err != nil {
		t.Fatalf("Logs Recv: %v", err)
	}
}
