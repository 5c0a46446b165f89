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
// that request's handler gets a context of its own, with the header's
// relative timeout as its deadline and its metadata (Metadata), registered
// in conn.inflight by seq until the call ends. A Cancel (ipc.MsgCancel, the
// call's seq) is handled by the reader at once: it cancels that context, so
// the handler's ctx ends as soon as the reader reads the frame; a Cancel for
// a seq not in flight is ignored. A call with a header is never served
// inline: the reader must stay free to read its Cancel.
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
		hdr := &callHeader{seq: seq}
		if err := ipc.DecodePayload(r.body(), &hdr.h); err != nil {
			hdr.err = err
		}
		c.controlDone(r)
		c.hdr = hdr
		return true
	case ipc.MsgCancel:
		c.controlDone(r)
		c.mu.Lock()
		cancel := c.inflight[seq]
		c.mu.Unlock()
		if cancel != nil {
			cancel()
		}
		return true
	}
	hdr := c.hdr
	c.hdr = nil
	if hdr == nil || hdr.seq != seq {
		return false
	}
	if hdr.err != nil {
		m := r.m
		r.decoded()
		c.release(r.drop())
		c.answerError(m, seq, &headerError{hdr.err}, nil)
		return true
	}
	ctx, cancel := context.WithCancel(c.ctx)
	if hdr.h.Timeout > 0 {
		var cancelT context.CancelFunc
		ctx, cancelT = context.WithTimeout(ctx, time.Duration(hdr.h.Timeout))
		cancel = joinCancel(cancelT, cancel)
	}
	if len(hdr.h.Metadata) > 0 {
		ctx = context.WithValue(ctx, metadataKey{}, hdr.h.Metadata)
	}
	c.mu.Lock()
	if c.inflight == nil {
		c.inflight = make(map[uint64]context.CancelFunc)
	}
	c.inflight[seq] = cancel
	c.mu.Unlock()
	r.ctx = ctx
	r.done = func() {
		c.mu.Lock()
		delete(c.inflight, seq)
		c.mu.Unlock()
		cancel()
	}
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

func joinCancel(a, b context.CancelFunc) context.CancelFunc {
	return func() { a(); b() }
}

// context is the handler's context for r.
func (r *request) context() context.Context {
	if r.ctx != nil {
		return r.ctx
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
