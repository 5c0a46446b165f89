package client_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

// A connection the server closed (as its idle timeout or its shutdown does)
// fails with an error that names the path the caller gave, never the
// private name the server bound, and says what happened.
func TestServerClosedNamesPath(t *testing.T) {
	leakCheck(t)
	srv, path := start(t, nil)
	c := dial(t, path, client.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := echo(ctx, c, &servertest.EchoRequest{ID: "a"}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(ctx); err != nil { // closes the idle connection at once
		t.Fatal(err)
	}
	var err error
	for err == nil && ctx.Err() == nil { // a write into the closed socket may succeed once
		_, err = echo(ctx, c, &servertest.EchoRequest{ID: "b"})
	}
	var ge *client.GoneError
	if !errors.Is(err, client.ErrClosed) || !errors.As(err, &ge) || ge.Path != path {
		t.Fatalf("call after the server closed: %v", err)
	}
	if strings.Contains(err.Error(), ".bind-") || !strings.Contains(err.Error(), "the server at "+path+" closed the connection (") {
		t.Errorf("error: %v", err)
	}
	t.Logf("after the server closed: %v", err)
}

// Every error of a broken connection names the socket path the caller
// gave: after Close, after a framing error, after a stall.
func TestConnErrorNamesPath(t *testing.T) {
	leakCheck(t)
	check := func(what string, err error, path string) {
		t.Helper()
		var ce *client.ConnError
		if !errors.Is(err, client.ErrClosed) || !errors.As(err, &ce) || ce.Path != path {
			t.Fatalf("%s: %v; want a *ConnError for %s", what, err, path)
		}
		if want := "client: connection closed: " + path + ": "; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: %q; want it to begin %q", what, err, want)
		}
		if strings.Contains(err.Error(), ".bind-") {
			t.Errorf("%s: %q names the server's private socket", what, err)
		}
	}
	t.Run("closed", func(t *testing.T) {
		_, path := start(t, nil)
		c := dial(t, path, client.Options{})
		c.Close()
		_, err := echo(context.Background(), c, &servertest.EchoRequest{})
		check("after Close", err, path)
		if want := "client: connection closed: " + path + ": closed by client"; err.Error() != want {
			t.Errorf("after Close: %q, want %q", err, want)
		}
	})
	t.Run("framing", func(t *testing.T) {
		p, path := listenPeer(t)
		c := dial(t, path, client.Options{})
		p.accept()
		res := goEcho(context.Background(), c, "a")
		p.request()
		p.write([]byte("not a frame header!"))
		check("bad magic", wait(t, res, "call").err, path)
	})
	t.Run("stall", func(t *testing.T) {
		p, path := listenPeer(t)
		c := dial(t, path, client.Options{})
		p.accept()
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		res := goEcho(ctx, c, "a")
		h := p.request()
		p.write(answer(h.SeqNo, "a")[:5])
		err := wait(t, res, "call").err
		check("stall", err, path)
		var se *client.StallError
		if !errors.As(err, &se) {
			t.Errorf("stall: %v; want a *StallError", err)
		}
	})
}
