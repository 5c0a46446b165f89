package client_test

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"

	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

// opaqueConn hides the *net.UnixConn under a transport, as a pipe to an
// ssh process would.
type opaqueConn struct{ net.Conn }

// TestOptionsDial: a Dial hook makes every connection (the first, a
// stream's, a redial's) and errors name the address the caller gave.
func TestOptionsDial(t *testing.T) {
	leakCheck(t)
	_, path := start(t, nil)
	var dials atomic.Int32
	addr := "ssh://example/c.sock"
	opts := client.Options{
		Dial: func(ctx context.Context, got string) (net.Conn, error) {
			if got != addr {
				t.Errorf("Dial got %q, want %q", got, addr)
			}
			dials.Add(1)
			var d net.Dialer
			nc, err := d.DialContext(ctx, "unix", path)
			return opaqueConn{nc}, err
		},
	}
	r, err := client.NewRedialer(context.Background(), addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := testCtx(t)
	if resp, err := redialEcho(ctx, r, "x"); err != nil || resp.ID != "x" {
		t.Fatalf("call: %+v, %v", resp, err)
	}
	s, err := r.OpenStream(ctx, tailInfo, &servertest.TailRequest{N: 1})
	if err != nil {
		t.Fatal(err)
	}
	var f servertest.TailFrame
	if err := s.RecvInto(&f); err != nil {
		t.Fatal(err)
	}
	s.Close()
	r.Conn().Close() // as if the transport broke: the next call redials through the hook
	if resp, err := redialEcho(ctx, r, "y"); err != nil || resp.ID != "y" {
		t.Fatalf("call after the break: %+v, %v", resp, err)
	}
	if n := dials.Load(); n != 3 {
		t.Errorf("Dial called %d times, want 3 (the connection, the stream's, the redial)", n)
	}

	failing := opts
	failing.Dial = func(context.Context, string) (net.Conn, error) { return nil, errors.New("ssh: no route") }
	if _, err := client.Dial(addr, failing); err == nil || err.Error() != "client: dial "+addr+": ssh: no route" {
		t.Errorf("failing Dial: %v", err)
	}
}
