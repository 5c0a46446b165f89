package mgmt_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/status"
)

// Describe returns the schema the package embeds, byte for byte, its
// SHA-256, the runtime's version and the features; Ping answers; the
// connection goes on serving the protocol.
func TestDescribeAndPing(t *testing.T) {
	noLeaks(t)
	h := &handler{list: func(context.Context) (*mgmt.ListResponsePayload, error) {
		return &mgmt.ListResponsePayload{Entries: []mgmt.ListEntry{entry("web")}}, nil
	}}
	_, path, _ := startServer(t, h)
	c := dial(t, path)
	ctx := testCtx(t)
	d, err := c.Describe(ctx)
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	if d.Schema != mgmt.Schema || d.SHA256 != sha256.Sum256([]byte(mgmt.Schema)) || d.Runtime != ipc.RuntimeVersion {
		t.Errorf("Describe = %d bytes, sha %x, runtime %q; want mgmt.Schema (%d bytes), its sha, %q",
			len(d.Schema), d.SHA256, d.Runtime, len(mgmt.Schema), ipc.RuntimeVersion)
	}
	for _, f := range []string{"errors", "ping", "describe"} {
		if !slices.Contains(d.Features, f) {
			t.Errorf("Describe features %v lack %q", d.Features, f)
		}
	}
	if err := c.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	// The connection goes on serving the protocol.
	if resp, err := c.List(ctx); err != nil || len(resp.Entries) != 1 {
		t.Errorf("List after Describe: %v", err)
	}
}

// Against a server that speaks only the base protocol, Describe and Ping
// fail at once with Unimplemented, and nothing is sent: the scripted
// cliwrap-like manager counts the frames it gets (the hello and List).
func TestDescribeLegacy(t *testing.T) {
	noLeaks(t)
	_, path, _ := startServer(t, &handler{}, func(o *mgmt.ServerOptions) { o.Legacy = true })
	c := dial(t, path)
	ctx := testCtx(t)
	_, err := c.Describe(ctx)
	var re *client.RemoteError
	if status.CodeOf(err) != status.Unimplemented || !strings.Contains(err.Error(), "speaks only the base protocol") || !errors.As(err, &re) {
		t.Errorf("Describe on a legacy server = %v, want Unimplemented, the base protocol named", err)
	}
	if err := c.Ping(ctx); status.CodeOf(err) != status.Unimplemented {
		t.Errorf("Ping on a legacy server = %v, want Unimplemented", err)
	}

	// Sent nothing: a raw base-protocol server sees only what the calls sent.
	sock := sockPath(t)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	frames := make(chan ipc.MsgType, 16)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		r := ipc.NewFrameReader(nc, 0)
		for {
			h, _, err := r.ReadFrame()
			if err != nil {
				close(frames)
				return
			}
			frames <- h.MsgType
			// Answer as a cliwrap manager: unknown request type, seq echoed.
			text := "unknown request type " + h.MsgType.String()
			if h.MsgType == mgmt.MsgListRequest {
				b, _ := ipc.AppendMsgFrame(nil, ipc.Header{MsgType: mgmt.MsgListResponse, SeqNo: h.SeqNo}, &mgmt.ListResponsePayload{})
				nc.Write(b)
				continue
			}
			b, _ := ipc.AppendMsgFrame(nil, ipc.Header{MsgType: mgmt.MsgStatusResponse, SeqNo: h.SeqNo}, &mgmt.StatusResponsePayload{Err: text})
			nc.Write(b)
		}
	}()
	raw := dial(t, sock)
	if _, err := raw.List(ctx); err != nil {
		t.Fatalf("List on the raw legacy server: %v", err)
	}
	if _, err := raw.Describe(ctx); status.CodeOf(err) != status.Unimplemented {
		t.Errorf("Describe on the raw legacy server = %v", err)
	}
	if err := raw.Ping(ctx); status.CodeOf(err) != status.Unimplemented {
		t.Errorf("Ping on the raw legacy server = %v", err)
	}
	raw.Close()
	var got []ipc.MsgType
	for m := range frames {
		got = append(got, m)
	}
	if want := []ipc.MsgType{ipc.MsgHello, mgmt.MsgListRequest}; !slices.Equal(got, want) {
		t.Errorf("the legacy server got %v, want only %v (Describe and Ping send nothing)", got, want)
	}
}
