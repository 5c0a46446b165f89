package server

import (
	"context"
	"time"
)

// SetRefuseTimeout changes the time a refused connection has to send its
// first request, until the test ends.
func SetRefuseTimeout(t interface{ Cleanup(func()) }, d time.Duration) {
	old := refuseTimeout
	refuseTimeout = d
	t.Cleanup(func() { refuseTimeout = old })
}

// WithPeerGroupsForTest returns ctx carrying groups as the peer's
// supplementary groups, as a connection's context does.
func WithPeerGroupsForTest(ctx context.Context, groups []uint32) context.Context {
	if groups == nil {
		return ctx
	}
	return context.WithValue(ctx, groupsKey{}, groups)
}
