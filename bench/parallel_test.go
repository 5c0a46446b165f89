package bench

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// parallelImpl returns, for one shared connection, a factory of per-goroutine
// call functions (each goroutine gets its own request and response values).
type parallelImpl struct {
	name  string
	setup func(tb testing.TB) func() func() error
}

func parallelImpls() []parallelImpl {
	ctx := context.Background()
	return []parallelImpl{
		{"raw", func(tb testing.TB) func() func() error {
			m := dialRawMux(tb, startRaw(tb))
			return func() func() error {
				f := frameOf(mgmt.MsgStatusRequest, 0, StatusRequest())
				ch := make(chan error, 1)
				return func() error { return m.call(f, ch) }
			}
		}},
		{"mgmtgen", func(tb testing.TB) func() func() error {
			c := dialMgmt(tb, startMgmt(tb, newHandler()))
			return func() func() error {
				req := StatusRequest()
				return func() error { _, err := c.Status(ctx, req); return err }
			}
		}},
		// The typed client against the raw server: the client's share.
		{"client-only", func(tb testing.TB) func() func() error {
			c := dialMgmt(tb, startRaw(tb))
			return func() func() error {
				req := StatusRequest()
				return func() error { _, err := c.Status(ctx, req); return err }
			}
		}},
		{"ttrpc", func(tb testing.TB) func() func() error {
			c := dialTTRPC(tb, startTTRPC(tb))
			return func() func() error {
				req := bytesOf(sizes().statusReq)
				return func() error {
					var resp wrapperspb.BytesValue
					return c.Call(ctx, "bench.Mgmt", "Status", req, &resp)
				}
			}
		}},
		{"grpc", func(tb testing.TB) func() func() error {
			cc := dialGRPC(tb, startGRPC(tb))
			return func() func() error {
				req := bytesOf(sizes().statusReq)
				return func() error {
					var resp wrapperspb.BytesValue
					return cc.Invoke(ctx, "/bench.Mgmt/Status", req, &resp)
				}
			}
		}},
	}
}

// TestParallelImpls runs 16 goroutines of Status calls through every impl.
func TestParallelImpls(t *testing.T) {
	for _, im := range parallelImpls() {
		t.Run(im.name, func(t *testing.T) {
			mk := im.setup(t)
			if n, err := spread(16, 400, mk); err != nil || n != 400 {
				t.Fatalf("%d calls, %v", n, err)
			}
		})
	}
}

// spread makes n calls from g goroutines, each with its own call function.
func spread(g, n int, mk func() func() error) (int64, error) {
	var next, made atomic.Int64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for range g {
		do := mk()
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if err := do(); err != nil {
					once.Do(func() { first = err })
					return
				}
				made.Add(1)
			}
		})
	}
	wg.Wait()
	return made.Load(), first
}

// BenchmarkParallel is Status calls from g goroutines sharing one client
// connection (the raw floor multiplexes by seq like the generated client);
// calls/s is the throughput, ns/op its inverse.
func BenchmarkParallel(b *testing.B) {
	for _, g := range []int{1, 4, 16, 64} {
		for _, im := range parallelImpls() {
			b.Run("g="+itoa(g)+"/impl="+im.name, func(b *testing.B) {
				mk := im.setup(b)
				if err := mk()(); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				start := time.Now()
				if _, err := spread(g, b.N, mk); err != nil {
					b.Fatal(err)
				}
				el := time.Since(start)
				b.StopTimer()
				b.ReportMetric(float64(b.N)/el.Seconds(), "calls/s")
			})
		}
	}
}
