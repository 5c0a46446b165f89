package client_test

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

// The generic glue generated clients are built from (glue.go), on the test
// protocol: what the generated methods did by hand before.

var (
	echoCall = &client.UnaryCall[servertest.EchoResponse]{Info: *echoInfo}
	// The echoed ID doubles as an error field: non-empty fails the call.
	echoErrCall = &client.UnaryCall[servertest.EchoResponse]{
		Info:       *echoInfo,
		ErrorField: func(r *servertest.EchoResponse) string { return r.ID },
	}
	listCall = &client.UnaryCall[servertest.EchoResponse]{Info: *listInfo}
)

func TestUnary(t *testing.T) {
	leakCheck(t)
	_, path := start(t, nil)
	c := dial(t, path, client.Options{})
	ctx := context.Background()
	resp, err := client.Unary(ctx, c, echoCall, &servertest.EchoRequest{ID: "a", N: 3})
	if err != nil || resp.ID != "a" || resp.N != 3 {
		t.Fatalf("Unary: %+v, %v", resp, err)
	}
	// A nil request is sent as the zero value.
	if resp, err = client.Unary(ctx, c, echoCall, (*servertest.EchoRequest)(nil)); err != nil || resp.ID != "" || resp.N != 0 {
		t.Fatalf("Unary with a nil request: %+v, %v", resp, err)
	}
	// A request without payload travels empty (List refuses any payload).
	if resp, err = client.Unary[client.NoPayload](ctx, c, listCall, nil); err != nil || resp.N != servertest.ListN {
		t.Fatalf("Unary without payload: %+v, %v", resp, err)
	}
	// A non-empty error field is a *RemoteError, returned with the response.
	resp, err = client.Unary(ctx, c, echoErrCall, &servertest.EchoRequest{ID: "boom", N: 7})
	var re *client.RemoteError
	if !errors.As(err, &re) || re.Method != "Echo" || re.Text != "boom" || resp == nil || resp.N != 7 {
		t.Fatalf("error field: %+v, %v", resp, err)
	}
	if resp, err = client.Unary(ctx, c, echoErrCall, &servertest.EchoRequest{}); err != nil || resp == nil {
		t.Fatalf("empty error field: %+v, %v", resp, err)
	}
	// A response without payload is not decoded.
	none := &client.UnaryCall[client.NoPayload]{Info: *echoInfo}
	if p, err := client.Unary(ctx, c, none, &servertest.EchoRequest{ID: "x"}); err != nil || p == nil {
		t.Fatalf("response without payload: %v, %v", p, err)
	}
}

func TestTypedStream(t *testing.T) {
	leakCheck(t)
	_, path := start(t, nil)
	c := dial(t, path, client.Options{})
	resets := 0
	tail := &client.StreamCall[servertest.TailFrame]{
		Info:  *tailInfo,
		Reset: func(f *servertest.TailFrame) { resets++; *f = servertest.TailFrame{} },
		Last:  func(f *servertest.TailFrame) bool { return f.EOF },
	}
	s, err := client.OpenTyped(context.Background(), c, tail, &servertest.TailRequest{N: 3})
	if err != nil {
		t.Fatal(err)
	}
	var f servertest.TailFrame
	if err := s.RecvInto(&f); err != nil || f.I != 0 || resets != 1 {
		t.Fatalf("RecvInto: %+v, %v, %d resets", f, err, resets)
	}
	var got []int
	for p, err := range s.All() {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.I)
	}
	if len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("All after the first frame: %v", got)
	}
	if _, err := s.Recv(); err != io.EOF {
		t.Fatalf("Recv after the last frame: %v, want io.EOF", err)
	}

	// Without Last the stream goes on after an EOF frame, until closed; a
	// nil request is the zero value (N 0: one frame with EOF).
	plain := &client.StreamCall[servertest.TailFrame]{Info: *tailInfo}
	s, err = client.OpenTyped(context.Background(), c, plain, (*servertest.TailRequest)(nil))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := s.Recv(); err != nil || !p.EOF {
		t.Fatalf("first frame: %+v, %v", p, err)
	}
	s.Close()
	if _, err := s.Recv(); err != io.EOF {
		t.Fatalf("Recv after Close: %v, want io.EOF", err)
	}
}
