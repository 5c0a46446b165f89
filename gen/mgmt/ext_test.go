package mgmt_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/status"
)

// The extensions through the generated client and server (docs/wire.md,
// "Extensions"): negotiation and its fallback, error frames with codes.

// remote is err's *client.RemoteError, failing t without one.
func remote(t *testing.T, err error, what string) *client.RemoteError {
	t.Helper()
	var re *client.RemoteError
	if !errors.As(err, &re) {
		t.Fatalf("%s: %v (%T), want a *client.RemoteError", what, err, err)
	}
	return re
}

// The generated client negotiates; every error on the extended connection
// carries its code, and none closes the connection.
func TestExtErrorCodes(t *testing.T) {
	noLeaks(t)
	h := &handler{
		status: func(_ context.Context, r *mgmt.StatusRequestPayload) (*mgmt.StatusResponsePayload, error) {
			switch r.ID {
			case "panic":
				panic("boom")
			case "plain":
				return nil, errors.New("plain failure")
			}
			return nil, status.New(status.NotFound, "no process "+r.ID).WithDetails([]byte{0x81, 0xA1, 'k', 0x01})
		},
		list: func(context.Context) (*mgmt.ListResponsePayload, error) {
			return nil, status.Errorf(status.FailedPrecondition, "supervisor is shutting down")
		},
	}
	_, path, _ := startServer(t, h)
	c := dial(t, path)
	ctx := testCtx(t)
	if _, err := c.List(ctx); status.CodeOf(err) != status.FailedPrecondition || err.Error() != "List: supervisor is shutting down" {
		t.Errorf("List = %v (code %v), want FailedPrecondition", err, status.CodeOf(err))
	}
	if !c.Conn().Extended(ctx) || !slices.Equal(c.Conn().Features(ctx), []string{"errors", "status", "ready", "cancel", "meta", "ping", "describe", "mux"}) {
		t.Fatalf("connection not extended: features %v", c.Conn().Features(ctx))
	}
	for _, tc := range []struct {
		id   string
		code status.Code
		text string
	}{
		{"web", status.NotFound, "no process web"},
		{"plain", status.Unknown, "plain failure"},
		{"panic", status.Internal, "server: panic in Status handler"},
	} {
		resp, err := c.Status(ctx, &mgmt.StatusRequestPayload{ID: tc.id})
		re := remote(t, err, tc.id)
		if resp != nil || re.Code != tc.code || re.Text != tc.text || re.Method != "Status" || status.CodeOf(err) != tc.code {
			t.Errorf("Status(%s) = %+v, %#v; want code %v, text %q", tc.id, resp, re, tc.code, tc.text)
		}
	}
	_, err := c.Status(ctx, &mgmt.StatusRequestPayload{ID: "web"})
	if re := remote(t, err, "details"); string(re.Details) != "\x81\xa1k\x01" {
		t.Errorf("details = %x, want the handler's", re.Details)
	}
	if !errors.Is(err, status.New(status.NotFound, "no process web")) || errors.Is(err, status.New(status.NotFound, "no process db")) {
		t.Errorf("errors.Is by code and message fails on %v", err)
	}
	// The runtime's own failures.
	for _, tc := range []struct {
		t    ipc.MsgType
		body []byte
		code status.Code
		text string
	}{
		{0xAE, nil, status.Unimplemented, "unknown request type 0xae"},
		{ipc.MsgReady, nil, status.Unimplemented, "unknown request type 0xf6"}, // a server-to-client id
		{mgmt.MsgStatusRequest, []byte{0x81, 0xA2, 'i', 'd'}, status.InvalidArgument, "malformed Status request: "},
	} {
		h, body, err := c.CallContext(ctx, tc.t, tc.body)
		if err != nil || h.MsgType != ipc.MsgError {
			t.Fatalf("Call(%s) = %+v, %v; want an error frame", tc.t, h, err)
		}
		var st ipc.Status
		if err := ipc.DecodePayload(body, &st); err != nil || status.Code(st.Code) != tc.code || !strings.HasPrefix(st.Message, tc.text) {
			t.Errorf("Call(%s) = %+v (%v), want code %v, %q", tc.t, st, err, tc.code, tc.text)
		}
	}
	if err := c.Conn().Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if _, err := c.Status(ctx, &mgmt.StatusRequestPayload{ID: "web"}); status.CodeOf(err) != status.NotFound {
		t.Errorf("after every error, Status = %v; the connection must be intact", err)
	}
}

// A server built with Options.Legacy speaks the base protocol: the client
// falls back silently, errors come in the error field (code Unknown), Ping
// is Unimplemented without a frame sent, and a second dial sends no hello.
func TestExtLegacyServerFallback(t *testing.T) {
	noLeaks(t)
	h := &handler{status: func(_ context.Context, r *mgmt.StatusRequestPayload) (*mgmt.StatusResponsePayload, error) {
		return &mgmt.StatusResponsePayload{Entry: entry(r.ID)}, status.New(status.NotFound, "no process "+r.ID)
	}}
	_, path, _ := startServer(t, h, func(o *mgmt.ServerOptions) { o.Legacy = true })
	ctx := testCtx(t)
	for round := range 2 {
		c := dial(t, path)
		resp, err := c.Status(ctx, &mgmt.StatusRequestPayload{ID: "db"})
		re := remote(t, err, "legacy Status")
		if resp == nil || resp.Entry != entry("db") || re.Code != status.Unknown || re.Text != "no process db" {
			t.Errorf("round %d: Status = %+v, %#v; want the entry and the text, code Unknown", round, resp, re)
		}
		if c.Conn().Extended(ctx) || c.Conn().Features(ctx) != nil {
			t.Errorf("round %d: a legacy server's connection is extended", round)
		}
		if err := c.Conn().Ping(ctx); status.CodeOf(err) != status.Unimplemented {
			t.Errorf("round %d: Ping on a legacy server = %v, want Unimplemented", round, err)
		}
		if _, err := c.List(ctx); err == nil || status.CodeOf(err) != status.Unknown {
			t.Errorf("round %d: List = %v", round, err)
		}
	}
}

// A handler returning a response and an error: on an extended connection
// the typed method gets the error, with its code, and no response (a call
// has one answer, docs/wire.md "Errors"); the same handler on a legacy
// server gives the response with the error text (TestExtLegacyServerFallback).
func TestExtResponseWithError(t *testing.T) {
	noLeaks(t)
	h := &handler{status: func(_ context.Context, r *mgmt.StatusRequestPayload) (*mgmt.StatusResponsePayload, error) {
		return &mgmt.StatusResponsePayload{Entry: entry(r.ID)}, status.New(status.NotFound, "no process "+r.ID)
	}}
	_, path, _ := startServer(t, h)
	resp, err := dial(t, path).Status(testCtx(t), &mgmt.StatusRequestPayload{ID: "db"})
	if re := remote(t, err, "extended Status"); resp != nil || re.Code != status.NotFound || re.Text != "no process db" {
		t.Errorf("Status = %+v, %#v; want no response and NotFound", resp, re)
	}
}

// A path found legacy is remembered: a later dial sends no hello. Seen from
// a scripted legacy server counting the frames it gets.
func TestExtLegacyRemembered(t *testing.T) {
	noLeaks(t)
	m, path := startFakeManager(t)
	ctx := testCtx(t)
	for range 3 {
		c := dial(t, path)
		if _, err := c.List(ctx); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	m.stop()
	hellos := 0
	for _, r := range m.reqs {
		if r.h.MsgType == ipc.MsgHello {
			hellos++
		}
	}
	if hellos != 1 || len(m.reqs) != 4 {
		t.Errorf("a legacy manager got %d hellos in %d frames over 3 dials, want 1 in 4", hellos, len(m.reqs))
	}
}

// A server that closes the connection on the hello. A first call whose
// context can end waits for the hello's answer (it sent the hello alone):
// the connection breaks before the call is written, so the generated
// client redials, without a hello (the path is remembered), and the call
// goes through. The server saw the hello alone, then the List alone.
func TestExtServerClosesOnHello(t *testing.T) {
	noLeaks(t)
	path := sockPath(t)
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan []ipc.MsgType, 2)
	go func() {
		for range 2 {
			nc, err := l.Accept()
			if err != nil {
				done <- nil
				return
			}
			fr := ipc.NewFrameReader(nc, 0)
			h, _, err := fr.ReadFrame()
			if err != nil {
				nc.Close()
				done <- nil
				continue
			}
			got := []ipc.MsgType{h.MsgType}
			if h.MsgType != ipc.MsgHello {
				frame, _ := ipc.AppendFrame(nil, ipc.Header{MsgType: mgmt.MsgListResponse, SeqNo: h.SeqNo}, []byte{0x80})
				nc.Write(frame)
			}
			nc.Close()
			done <- got
		}
	}()
	if list, err := dial(t, path).List(testCtx(t)); err != nil || len(list.Entries) != 0 {
		t.Errorf("List on a server that closes on the hello = %+v, %v; want it served after the fallback", list, err)
	}
	if a, b := <-done, <-done; !slices.Equal(a, []ipc.MsgType{ipc.MsgHello}) || !slices.Equal(b, []ipc.MsgType{mgmt.MsgListRequest}) {
		t.Errorf("the server saw %v then %v, want the hello, then the List alone", a, b)
	}
}

// Refusals name their code to a client that said hello: a full server
// ResourceExhausted, Authorize PermissionDenied.
func TestExtRefusalCodes(t *testing.T) {
	noLeaks(t)
	_, path, _ := startServer(t, &handler{}, func(o *mgmt.ServerOptions) {
		o.MaxConns = 1
		o.Authorize = func(ctx context.Context, p server.PeerCred) error { return nil }
	})
	ctx := testCtx(t)
	hold := dial(t, path)
	if err := hold.Conn().Ping(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := dial(t, path).List(ctx)
	if re := remote(t, err, "full"); re.Code != status.ResourceExhausted || !strings.HasPrefix(re.Text, "server full: ") {
		t.Errorf("List on a full server = %#v, want ResourceExhausted", re)
	}

	_, path, _ = startServer(t, &handler{}, func(o *mgmt.ServerOptions) {
		o.Authorize = func(context.Context, server.PeerCred) error { return errors.New("not on the list") }
	})
	_, err = dial(t, path).List(ctx)
	if re := remote(t, err, "refused"); re.Code != status.PermissionDenied || re.Text != "permission denied: not on the list" {
		t.Errorf("List refused by Authorize = %#v, want PermissionDenied", re)
	}
}

// A client that closes before its hello was answered (or sent) says
// nothing about the server: the next dial still negotiates.
func TestExtCloseBeforeHelloForgetsNothing(t *testing.T) {
	noLeaks(t)
	_, path, _ := startServer(t, &handler{})
	ctx := testCtx(t)
	c := dial(t, path)
	c.Close() // the hello was never sent
	s, err := dial(t, path).Logs(ctx, &mgmt.LogsRequestPayload{ID: "x"})
	if err == nil {
		s.Close() // the stream's own connection, closed as soon as it is open
	}
	if c := dial(t, path); !c.Conn().Extended(ctx) {
		t.Error("a client closed before its hello's answer made the path legacy")
	}
}
