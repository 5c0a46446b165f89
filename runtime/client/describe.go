package client

import (
	"context"
	"crypto/sha256"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/status"
)

// Description is what a server says it speaks (Describe): the text of the
// schema its generated package embeds, that text's SHA-256, the server
// runtime's version and the extension features it speaks.
type Description struct {
	Schema   string
	SHA256   [32]byte
	Runtime  string // e.g. "mgmtgen-runtime/1"
	Features []string
}

// Describe asks the server what it speaks (ipc.MsgDescribe, one round trip
// of the runtime's own). On a legacy server (one that speaks only the base
// protocol, such as a cliwrap manager) it fails at once, sending nothing,
// with a *RemoteError of code Unimplemented. A description whose schema
// does not match its SHA-256 fails with DataLoss.
func (c *Conn) Describe(ctx context.Context) (*Description, error) {
	var d ipc.Description
	info := &CallInfo{Method: "Describe", Request: ipc.MsgDescribe, Response: ipc.MsgDescribeResult}
	if err := c.ControlCall(ctx, "describe", info, nil, &d); err != nil {
		return nil, err
	}
	if sha256.Sum256([]byte(d.Schema)) != d.SHA256 {
		return nil, status.Errorf(status.DataLoss, "client: Describe: the schema the server at %s sent (%d bytes) does not match its SHA-256", c.path, len(d.Schema))
	}
	return &Description{Schema: d.Schema, SHA256: d.SHA256, Runtime: d.Runtime, Features: d.Features}, nil
}

// Describe is Conn.Describe, redialing by the rules above.
func (r *Redialer) Describe(ctx context.Context) (d *Description, err error) {
	err = r.do(ctx, func(c *Conn) error {
		d, err = c.Describe(ctx)
		return err
	})
	return d, err
}

// Ping is Conn.Ping, redialing by the rules above.
func (r *Redialer) Ping(ctx context.Context) error {
	return r.do(ctx, func(c *Conn) error { return c.Ping(ctx) })
}
