package main

import (
	"testing"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
)

// BenchmarkStatus compares, in one run, a Status round trip for a running
// process (whose RSS procd reports) with one for a stopped process (no
// child, no RSS). The target: running at most 1.1x stopped; the RSS is read
// from /proc at most once per supervisor.RSSMaxAge.
func BenchmarkStatus(b *testing.B) {
	p := startProcd(b, shProc("running", "exec sleep 1000", "")+
		shProc("stopped", "exit 0", "    restart: never\n"))
	p.waitState(b, "running", "running")
	p.waitState(b, "stopped", "stopped")
	// Warm up (connection buffers, scheduler, CPU frequency) so that the
	// first sub-benchmark does not pay for it.
	for range 2000 {
		p.client.Status(testCtx(b), &mgmt.StatusRequestPayload{ID: "stopped"})
	}
	for _, id := range []string{"running", "stopped"} {
		b.Run(id, func(b *testing.B) {
			ctx := testCtx(b)
			req := &mgmt.StatusRequestPayload{ID: id}
			for b.Loop() {
				if _, err := p.client.Status(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
