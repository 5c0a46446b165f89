package server

import (
	"context"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/status"
)

// A call's envelope, on an extended connection (docs/wire.md, "Deadlines,
// cancellation and metadata"). A client sends a CallHeader (ipc.MsgCallHeader,
// the call's seq) right before a request whose context can end or carries
// metadata. The reader keeps it (conn.hdr) for the request that follows:
// that request's handler gets a context of its own (a callCtx, callctx.go),
// with the header's relative timeout as its deadline and its metadata
// (Metadata), registered in conn.inflight by seq until the call ends. A
// Cancel (ipc.MsgCancel, the call's seq) is handled by the reader at once:
// it cancels that context, so the handler's ctx ends as soon as the reader
// reads the frame; a Cancel for a seq not in flight is ignored. A call with
// a header is served inline only if it has a deadline (callCtx.inlineable):
// a call that can end only by its Cancel needs the reader free to read it.
//
// Bounds: a CallHeader's metadata at most ipc.MaxMetadataPairs pairs and
// ipc.MaxMetadataBytes bytes (else the call is answered InvalidArgument
// and not run); conn.inflight holds at most MaxCallsPerConn entries (one
// per call in flight); a Cancel holds nothing (it is acted on as read).

// callHeader is a CallHeader as the reader read it.
type callHeader struct {
	seq uint64
	h   ipc.CallHeader
	err error // undecodable: the call is answered InvalidArgument
	set bool  // read, and not yet taken by its request
}

type metadataKey struct{}

// Metadata returns the metadata the client sent with the call whose
// context ctx is (client.WithMetadata), nil when none. The map is the
// call's: read it, do not change it.
func Metadata(ctx context.Context) map[string]string {
	md, _ := ctx.Value(metadataKey{}).(map[string]string)
	return md
}

// envelope handles the runtime's per-call frames on an extended connection,
// read by the reader: a CallHeader (kept for the next request) and a
// Cancel; it reports whether r was one (and is done with). Any other
// request takes the kept header if it has the same seq.
func (c *conn) envelope(r *request) bool {
	seq := r.h.SeqNo
	switch r.h.MsgType {
	case ipc.MsgCallHeader:
		hdr := &c.hdr
		hdr.seq, hdr.err, hdr.set = seq, nil, true
		if err := ipc.DecodePayload(r.body(), &hdr.h); err != nil {
			hdr.err = err
		}
		c.controlDone(r)
		return true
	case ipc.MsgCancel:
		c.controlDone(r)
		c.mu.Lock()
		cc := c.inflight[seq]
		c.mu.Unlock()
		if cc != nil {
			cc.cancel(context.Canceled)
		}
		return true
	case ipc.MsgStreamCredit:
		c.creditFrame(r)
		return true
	}
	hdr := &c.hdr
	if !hdr.set {
		return false
	}
	hdr.set = false
	if hdr.seq != seq {
		return false
	}
	if hdr.err != nil {
		m := r.m
		r.decoded()
		c.release(r.drop())
		c.answerError(m, seq, &headerError{hdr.err}, nil)
		return true
	}
	var md map[string]string
	if len(hdr.h.Metadata) > 0 {
		md = hdr.h.Metadata
	}
	cc := newCallCtx(c, seq, time.Duration(hdr.h.Timeout), md)
	hdr.h = ipc.CallHeader{} // the metadata map is the call's now
	c.mu.Lock()
	if c.inflight == nil {
		c.inflight = make(map[uint64]*callCtx)
	}
	c.inflight[seq] = cc
	c.mu.Unlock()
	r.call = cc
	return false
}

// controlDone gives back the slot and bytes of a frame the reader handled.
func (c *conn) controlDone(r *request) {
	r.decoded()
	c.mu.Lock()
	c.inBody = false
	c.mu.Unlock()
	c.release(r.drop())
}

// context is the handler's context for r.
func (r *request) context() context.Context {
	if r.call != nil {
		return r.call
	}
	return r.c.ctx
}

// headerError answers a call whose CallHeader could not be decoded.
type headerError struct{ err error }

func (e *headerError) Error() string           { return "malformed call header: " + e.err.Error() }
func (e *headerError) Unwrap() error           { return e.err }
func (e *headerError) StatusCode() status.Code { return status.InvalidArgument }

type connKey struct{}

// Extended reports whether the call whose context ctx is arrived on a
// connection that negotiated the extensions: a handler that must answer a
// legacy peer as the base protocol does (e.g. as a cliwrap manager) asks it.
func Extended(ctx context.Context) bool {
	c, _ := ctx.Value(connKey{}).(*conn)
	return c != nil && c.ext
}
