package client_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

// redialer dials path with a Redialer, closed at cleanup.
func redialer(t testing.TB, path string, opts client.Options) *client.Redialer {
	t.Helper()
	r, err := client.NewRedialer(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func redialEcho(ctx context.Context, r *client.Redialer, id string) (*servertest.EchoResponse, error) {
	return client.Unary[servertest.EchoRequest, servertest.EchoResponse](ctx, r,
		&client.UnaryCall[servertest.EchoResponse]{Info: *echoInfo}, &servertest.EchoRequest{ID: id})
}

// waitPeerClosed waits until the server has closed c's connection.
func waitPeerClosed(t testing.TB, c *client.Conn) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !client.PeerClosed(c) {
		if time.Now().After(deadline) {
			t.Fatalf("the server did not close the connection within %v", waitFor)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return ctx
}

// TestRedialAfterIdleClose: the server closes the idle connection; the
// next call is answered on a new one, as are concurrent calls that all
// find it broken. With NoRedial the call fails, naming the path the user
// gave and matching ErrNotSent (the server never saw it).
//
// The concurrent calls start once the client knows the connection is
// broken (a call on it, bypassing the Redialer, failed unsent): calls that
// race that discovery may have their frames in a write in flight when the
// reader sees the end, and are then counted as written (never resent), so
// they may fail; that is the rule, not what this test is about.
func TestRedialAfterIdleClose(t *testing.T) {
	leakCheck(t)
	_, path := servertest.Start(t, server.Options{SocketPath: filepath.Join(t.TempDir(), "c.sock"), IdleTimeout: 50 * time.Millisecond}, nil)
	r := redialer(t, path, client.Options{})
	off := redialer(t, path, client.Options{NoRedial: true})
	ctx := testCtx(t)
	for _, x := range []*client.Redialer{r, off} {
		if resp, err := redialEcho(ctx, x, "one"); err != nil || resp.ID != "one" {
			t.Fatalf("first call: %+v, %v", resp, err)
		}
	}
	first := r.Conn()
	waitPeerClosed(t, first)
	waitPeerClosed(t, off.Conn())
	if _, err := echo(ctx, first, &servertest.EchoRequest{ID: "probe"}); !errors.Is(err, client.ErrNotSent) {
		t.Fatalf("a call on the closed connection itself: %v; want it to fail unsent", err)
	}

	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprint("after-", i)
			resp, err := redialEcho(ctx, r, id)
			if err == nil && resp.ID != id {
				err = fmt.Errorf("answered %q", resp.ID)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d after the idle close: %v", i, err)
		}
	}
	if r.Conn() == first {
		t.Error("the calls were answered on the closed connection?")
	}
	if err := first.Err(); !errors.Is(err, client.ErrClosed) {
		t.Errorf("old connection: Err = %v, want it broken", err)
	}

	_, err := redialEcho(ctx, off, "two")
	var gone *client.GoneError
	switch {
	case err == nil:
		t.Fatal("NoRedial: the call after the idle close succeeded")
	case !errors.Is(err, client.ErrNotSent) || !errors.As(err, &gone):
		t.Fatalf("NoRedial: %v; want a GoneError matching ErrNotSent", err)
	case !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), ".bind-"):
		t.Fatalf("NoRedial: %q; want it to name %s and nothing else", err, path)
	}
	if err2 := off.Conn().Err(); err2 == nil {
		t.Fatal("NoRedial: connection still usable")
	}
}

// TestRedialAfterRestart: the server shuts down and another starts on the
// same path; the next call reaches the new one.
func TestRedialAfterRestart(t *testing.T) {
	leakCheck(t)
	path := filepath.Join(t.TempDir(), "c.sock")
	tagged := func(tag string) *servertest.Handler {
		return &servertest.Handler{Echo: func(ctx context.Context, req *servertest.EchoRequest) (*servertest.EchoResponse, error) {
			return &servertest.EchoResponse{ID: tag + ":" + req.ID}, nil
		}}
	}
	s1, err := server.New(server.Options{SocketPath: path}, servertest.Table(tagged("old")))
	if err != nil {
		t.Fatal(err)
	}
	if err := s1.Start(); err != nil {
		t.Fatal(err)
	}
	r := redialer(t, path, client.Options{})
	ctx := testCtx(t)
	if resp, err := redialEcho(ctx, r, "a"); err != nil || resp.ID != "old:a" {
		t.Fatalf("before the restart: %+v, %v", resp, err)
	}
	if err := s1.Close(ctx); err != nil {
		t.Fatal(err)
	}
	servertest.Start(t, server.Options{SocketPath: path}, tagged("new"))
	if resp, err := redialEcho(ctx, r, "b"); err != nil || resp.ID != "new:b" {
		t.Fatalf("after the restart: %+v, %v", resp, err)
	}
}

// TestRedialNeverResendsAWrittenCall: the server reads a call and dies
// without answering it. The call fails with the connection's error, not
// ErrNotSent, and is not sent again: the next call redials, and the first
// request on the new connection is that next call.
func TestRedialNeverResendsAWrittenCall(t *testing.T) {
	leakCheck(t)
	p, path := listenPeer(t)
	r := redialer(t, path, client.Options{})
	p.accept()
	ctx := testCtx(t)
	ch := make(chan error, 1)
	go func() {
		_, err := redialEcho(ctx, r, "in-flight")
		ch <- err
	}()
	if h := p.request(); h.SeqNo != 1 {
		t.Fatalf("request seq %d", h.SeqNo)
	}
	p.nc.Close() // the server dies with the call in flight
	var err error
	select {
	case err = <-ch:
	case <-time.After(waitFor):
		t.Fatal("the call in flight did not fail")
	}
	var gone *client.GoneError
	if !errors.As(err, &gone) || errors.Is(err, client.ErrNotSent) {
		t.Fatalf("call in flight: %v; want the server's close, not ErrNotSent", err)
	}
	go func() {
		resp, err := redialEcho(ctx, r, "next")
		if err == nil && resp.ID != "next" {
			err = fmt.Errorf("answered %q", resp.ID)
		}
		ch <- err
	}()
	p.accept()
	p.nc.SetReadDeadline(time.Now().Add(waitFor))
	h, body, err := p.fr.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	var req servertest.EchoRequest
	if err := ipc.DecodePayload(body, &req); err != nil || req.ID != "next" || h.SeqNo != 1 {
		t.Fatalf("first request on the new connection: seq %d %+v (%v), want the next call", h.SeqNo, req, err)
	}
	p.write(answer(h.SeqNo, "next"))
	if err := <-ch; err != nil {
		t.Fatalf("next call: %v", err)
	}
}

// TestRedialBackoff: with the server gone, a failed redial makes the next
// calls fail at once, without dialing, until the back-off has passed;
// then a call dials again, and once the server is back it is answered.
func TestRedialBackoff(t *testing.T) {
	leakCheck(t)
	path := filepath.Join(t.TempDir(), "c.sock")
	h := &servertest.Handler{}
	s1, err := server.New(server.Options{SocketPath: path}, servertest.Table(h))
	if err != nil {
		t.Fatal(err)
	}
	if err := s1.Start(); err != nil {
		t.Fatal(err)
	}
	defer client.SetRedialBackoffMin(time.Hour)()
	r := redialer(t, path, client.Options{})
	ctx := testCtx(t)
	if err := s1.Close(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = redialEcho(ctx, r, "down")
	if err == nil || !strings.HasPrefix(err.Error(), "client: dial "+path+": ") {
		t.Fatalf("call with the server down: %v; want the redial's dial error", err)
	}
	_, err = redialEcho(ctx, r, "again")
	want := "client: redial " + path + ": 1 attempts failed, the next is due in "
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("call in the back-off: %v\nwant %s...", err, want)
	}

	// A back-off short enough to pass: dials resume, and reach the server
	// once it is back.
	defer client.SetRedialBackoffMin(time.Millisecond)()
	s2, err := server.New(server.Options{SocketPath: path}, servertest.Table(h))
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Start(); err != nil {
		t.Fatal(err)
	}
	r2 := redialer(t, path, client.Options{})
	if err := s2.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := redialEcho(ctx, r2, "down"); err == nil {
		t.Fatal("call with the server down succeeded")
	}
	servertest.Start(t, server.Options{SocketPath: path}, h)
	for {
		_, err := redialEcho(ctx, r2, "back")
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no call answered within %v of the server's return: %v", waitFor, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
