package servertest

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/server"
)

// Start runs a server of the test protocol for t and closes it at cleanup,
// failing t if Close does not finish within 5 s. A nil h is a zero
// Handler; an empty opts.SocketPath is a socket in a fresh temporary
// directory (a subdirectory Start must create); a nil opts.Logger discards.
// It returns the server and its socket path.
func Start(t testing.TB, opts server.Options, h *Handler) (*server.Server, string) {
	t.Helper()
	if h == nil {
		h = &Handler{}
	}
	if opts.SocketPath == "" {
		opts.SocketPath = filepath.Join(t.TempDir(), "run", "test.sock")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := server.New(opts, Table(h))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, opts.SocketPath
}
