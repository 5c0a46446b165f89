package servertest

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// Helpers the tests of several packages share (runtime/server,
// runtime/client, gen/mgmt): one of each, here.

// LeakCheck verifies, after every other cleanup of t (servers closed,
// clients closed), that t left no goroutine behind. Call it first.
func LeakCheck(t testing.TB) {
	t.Helper()
	t.Cleanup(func() { goleak.VerifyNone(t) })
}

// LogBuffer collects a server's slog output; safe for concurrent use.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything logged so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Logger returns a text logger at debug level writing to b.
func (b *LogBuffer) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
