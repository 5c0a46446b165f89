package bench

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
)

// The extensions' costs (issue 13): a unary call on an extended connection
// against the same call on a legacy one, with and without a call envelope
// (a deadline travels as a CallHeader); the hello (a dial and its first
// call, with and without it); and the latency from a client's cancel to the
// handler's context ending.

func dialMgmtOpts(tb testing.TB, path string, opts mgmt.ClientOptions) *mgmt.Client {
	c, err := mgmt.DialOptions(bg, path, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// BenchmarkExtUnary: Status round trips; impl=legacy is the baseline of
// impl=extended, impl=legacy-deadline (the same call with a context that has
// a deadline, which a legacy connection does not send) the baseline of
// impl=extended-deadline (whose deadline travels in a CallHeader).
func BenchmarkExtUnary(b *testing.B) {
	path := startMgmt(b, newHandler())
	req := StatusRequest()
	for _, impl := range []struct {
		name     string
		legacy   bool
		deadline bool
	}{{"legacy", true, false}, {"extended", false, false}, {"legacy-deadline", true, true}, {"extended-deadline", false, true}} {
		b.Run("impl="+impl.name, func(b *testing.B) {
			c := dialMgmtOpts(b, path, mgmt.ClientOptions{Legacy: impl.legacy})
			ctx := bg
			if impl.deadline {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(bg, time.Hour)
				defer cancel()
			}
			if _, err := c.Status(ctx, req); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := c.Status(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHello: a dial, its first Status and the close; impl=legacy (no
// hello) is the baseline, impl=hello pipelines it with the first call,
// impl=hello-deadline's first call has a deadline, so it waits for the
// hello's answer before it is sent.
func BenchmarkHello(b *testing.B) {
	path := startMgmt(b, newHandler())
	req := StatusRequest()
	for _, impl := range []struct {
		name     string
		legacy   bool
		deadline bool
	}{{"legacy", true, false}, {"hello", false, false}, {"hello-deadline", false, true}} {
		b.Run("impl="+impl.name, func(b *testing.B) {
			ctx := bg
			if impl.deadline {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(bg, time.Hour)
				defer cancel()
			}
			b.ReportAllocs()
			for range b.N {
				c, err := mgmt.DialOptions(bg, path, mgmt.ClientOptions{Legacy: impl.legacy})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.Status(ctx, req); err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
		})
	}
}

// blocker's Status blocks until its context ends and reports when it woke.
type blocker struct {
	mgmt.UnimplementedHandler
	entered chan struct{}
	woke    chan time.Time
}

func (h *blocker) Status(ctx context.Context, _ *mgmt.StatusRequestPayload) (*mgmt.StatusResponsePayload, error) {
	h.entered <- struct{}{}
	<-ctx.Done()
	h.woke <- time.Now()
	return nil, ctx.Err()
}

// BenchmarkCancel: per iteration, a call whose handler blocks, cancelled
// once the handler runs; it reports the time from cancel() to the
// handler's context ending, median and 99th percentile (p50-µs, p99-µs).
func BenchmarkCancel(b *testing.B) {
	h := &blocker{entered: make(chan struct{}, 1), woke: make(chan time.Time, 1)}
	c := dialMgmtOpts(b, startMgmt(b, h), mgmt.ClientOptions{})
	req := StatusRequest()
	lat := make([]time.Duration, 0, b.N)
	errc := make(chan error, 1)
	b.ResetTimer()
	for range b.N {
		ctx, cancel := context.WithCancel(bg)
		go func() {
			_, err := c.Status(ctx, req)
			errc <- err
		}()
		<-h.entered
		start := time.Now()
		cancel()
		lat = append(lat, (<-h.woke).Sub(start))
		if err := <-errc; ctx.Err() == nil || err == nil {
			b.Fatalf("call: %v", err)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
}
