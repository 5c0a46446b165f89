package bench

import (
	"context"
	"fmt"
	"testing"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// unaryImpls builds, for one call, a function doing one round trip per impl;
// each sets up its server and client on tb.
type unaryImpl struct {
	name  string
	setup func(tb testing.TB, call string) func() error
}

func unaryImpls() []unaryImpl {
	return []unaryImpl{
		{"raw", rawUnary},
		{"mgmtgen", mgmtUnary},
		// The two halves of impl=mgmtgen: the raw client against the
		// generated server, and the typed client against the raw server.
		{"server-only", func(tb testing.TB, call string) func() error {
			return rawClientOn(tb, startMgmt(tb, newHandler()), call)
		}},
		{"client-only", func(tb testing.TB, call string) func() error {
			return typedClientOn(tb, startRaw(tb), call)
		}},
		{"inline-client", inlineUnary},
		// The least a typed codec costs: inline-client's client against a
		// server that only decodes, checks and encodes (startCodecFloor).
		{"codec-floor", func(tb testing.TB, call string) func() error {
			return inlineClientOn(tb, startCodecFloor(tb), call)
		}},
		{"reflect", reflectUnary},
		{"ttrpc", ttrpcUnary},
		{"grpc", grpcUnary},
	}
}

var bg = context.Background()

func rawUnary(tb testing.TB, call string) func() error {
	return rawClientOn(tb, startRaw(tb), call)
}

func mgmtUnary(tb testing.TB, call string) func() error {
	return typedClientOn(tb, startMgmt(tb, newHandler()), call)
}

// rawClientOn is the floor's client, sending pre-encoded requests to path.
func rawClientOn(tb testing.TB, path, call string) func() error {
	c := dialRaw(tb, path)
	f := frameOf(mgmt.MsgListRequest, 0, nil)
	if call == "Status" {
		f = frameOf(mgmt.MsgStatusRequest, 0, StatusRequest())
	}
	return func() error { return c.call(f) }
}

// typedClientOn is the generated client calling the server at path.
func typedClientOn(tb testing.TB, path, call string) func() error {
	c := dialMgmt(tb, path)
	if call == "Status" {
		req := StatusRequest()
		return func() error {
			r, err := c.Status(bg, req)
			if err == nil && r.Entry.ID != req.ID {
				err = fmt.Errorf("status: got %q", r.Entry.ID)
			}
			return err
		}
	}
	return func() error {
		r, err := c.List(bg)
		if err == nil && len(r.Entries) != 10 {
			err = fmt.Errorf("list: %d entries", len(r.Entries))
		}
		return err
	}
}

// inlineUnary is a prototype of the proposed client fix: the caller reads
// its own response (no reader goroutine), generated codec, generated server.
func inlineUnary(tb testing.TB, call string) func() error {
	return inlineClientOn(tb, startMgmt(tb, newHandler()), call)
}

// inlineClientOn is inline-client's client calling the server at path.
func inlineClientOn(tb testing.TB, path, call string) func() error {
	c := dialInline(tb, path)
	if call == "Status" {
		req := StatusRequest()
		return func() error {
			return c.call(mgmt.MsgStatusRequest, req, new(mgmt.StatusResponsePayload))
		}
	}
	return func() error {
		return c.call(mgmt.MsgListRequest, nil, new(mgmt.ListResponsePayload))
	}
}

func reflectUnary(tb testing.TB, call string) func() error {
	c := dialRefl(tb, startMgmt(tb, newHandler()))
	if call == "Status" {
		req := Reflect(StatusRequest()).(*RStatusRequest)
		return func() error { _, err := c.status(req); return err }
	}
	return func() error {
		r, err := c.list()
		if err == nil && len(r.Entries) != 10 {
			err = fmt.Errorf("list: %d entries", len(r.Entries))
		}
		return err
	}
}

func ttrpcUnary(tb testing.TB, call string) func() error {
	c := dialTTRPC(tb, startTTRPC(tb))
	if call == "Status" {
		req := bytesOf(sizes().statusReq)
		return func() error {
			var resp wrapperspb.BytesValue
			return c.Call(bg, "bench.Mgmt", "Status", req, &resp)
		}
	}
	return func() error {
		var resp wrapperspb.BytesValue
		return c.Call(bg, "bench.Mgmt", "List", &emptypb.Empty{}, &resp)
	}
}

func grpcUnary(tb testing.TB, call string) func() error {
	cc := dialGRPC(tb, startGRPC(tb))
	if call == "Status" {
		req := bytesOf(sizes().statusReq)
		return func() error {
			var resp wrapperspb.BytesValue
			return cc.Invoke(bg, "/bench.Mgmt/Status", req, &resp)
		}
	}
	return func() error {
		var resp wrapperspb.BytesValue
		return cc.Invoke(bg, "/bench.Mgmt/List", &emptypb.Empty{}, &resp)
	}
}

// TestUnaryImpls makes one call of each kind through every impl.
func TestUnaryImpls(t *testing.T) {
	for _, call := range []string{"List10", "Status"} {
		for _, im := range unaryImpls() {
			t.Run(call+"/"+im.name, func(t *testing.T) {
				do := im.setup(t, trim(call))
				for range 3 {
					if err := do(); err != nil {
						t.Fatal(err)
					}
				}
			})
		}
	}
}

func trim(call string) string {
	if call == "List10" {
		return "List"
	}
	return call
}

// BenchmarkRoundTrip is one goroutine making one call at a time over a Unix
// socket; allocs/op count client and server together (same process).
func BenchmarkRoundTrip(b *testing.B) {
	for _, call := range []string{"List10", "Status"} {
		for _, im := range unaryImpls() {
			b.Run(call+"/impl="+im.name, func(b *testing.B) {
				do := im.setup(b, trim(call))
				if err := do(); err != nil { // connect and warm up
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if err := do(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
