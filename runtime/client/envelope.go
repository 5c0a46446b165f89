package client

import (
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// A call's envelope, on an extended connection (docs/wire.md): a call whose
// context can end (a deadline, a cancel) or carries metadata is sent with a
// CallHeader before it, in the same write: the context's deadline as a
// timeout relative to the moment the call is encoded (immune to clock skew)
// and the metadata. When the call's context ends before its answer
// arrives, the call withdraws (as on any connection) and queues a Cancel
// for its seq, which the server acts on at once (its handler's context
// ends). A Cancel is 17 bytes queued behind the writer; at most one per call,
// so at most MaxPendingCalls of them, outside MaxQueuedBytes. A call that
// needs the envelope (its context can end, or carries metadata) and finds
// the hello's answer not known yet waits for it, once per connection,
// unless the server behind the path (the same listening pid and socket
// file) acknowledged a hello within extendedMemory: then the header goes
// right behind the hello, in the same write. So the hello costs a round
// trip only on the first connection to a server, and only to a first call
// whose context can end. A legacy peer never sees a CallHeader: a server
// found legacy is remembered so (and forgotten as extended), and a
// different server at the path is another identity. Should the very
// process that acknowledged a hello answer one as legacy later (nothing of
// ours does), the connection breaks with errNoLongerExtended.

type metadataKey struct{}

// WithMetadata returns a copy of ctx carrying the metadata pair k, v, added
// to any ctx already carries; a call made with it sends them to the server
// on an extended connection (server.Metadata reads them there). At most
// ipc.MaxMetadataPairs pairs and ipc.MaxMetadataBytes bytes in all: a call
// over that fails before it is sent. On a legacy connection metadata does
// not travel.
func WithMetadata(ctx context.Context, k, v string) context.Context {
	md := maps.Clone(MetadataFrom(ctx))
	if md == nil {
		md = make(map[string]string, 1)
	}
	md[k] = v
	return context.WithValue(ctx, metadataKey{}, md)
}

// MetadataFrom returns the metadata WithMetadata put in ctx, nil if none.
func MetadataFrom(ctx context.Context) map[string]string {
	md, _ := ctx.Value(metadataKey{}).(map[string]string)
	return md
}

// envelope reports the CallHeader a call with ctx sends, if any (ok): only
// on an extended connection, waiting for the hello's answer when the call
// has a deadline or metadata.
func (c *Conn) envelope(ctx context.Context) (h ipc.CallHeader, ok bool, err error) {
	if c.hcall == nil {
		return h, false, nil // never said hello: the base protocol
	}
	md := MetadataFrom(ctx)
	if ctx.Done() == nil && md == nil {
		return h, false, nil
	}
	ext := c.extended()
	if !ext && c.state.Load() == stateHello {
		if c.presumed {
			// Known extended: the header goes right behind the hello. Marked
			// first, so that a legacy answer read meanwhile breaks the
			// connection rather than leave a header unexplained.
			c.speculated.Store(true)
			ext = c.state.Load() != stateLegacy
		} else {
			c.waitHello(ctx)
			ext = c.extended()
		}
	}
	if !ext {
		return h, false, nil
	}
	if err := ipc.CheckMetadata(md); err != nil {
		return h, false, err
	}
	h.Metadata = md
	if deadline, ok := ctx.Deadline(); ok {
		h.Timeout = max(int64(time.Until(deadline)), 1)
	}
	return h, true, nil
}

// encodeCall builds a call's frames in a pooled buffer: its CallHeader, if
// withHdr, then the request, both with seq 0 (send patches both). hdrLen
// is the header frame's length, 0 without one.
func encodeCall(t ipc.MsgType, hdr *ipc.CallHeader, withHdr bool, req msgp.Marshaler) (bp *[]byte, frame []byte, hdrLen int, err error) {
	if !withHdr {
		bp, frame, err = encode(t, req)
		return bp, frame, 0, err
	}
	bp = bufPool.Get().(*[]byte)
	frame, hdrLen, err = encodeCallInto((*bp)[:0], t, hdr, true, req)
	if err != nil {
		bufPool.Put(bp)
		return nil, nil, 0, err
	}
	return bp, frame, hdrLen, nil
}

// encodeCallInto is encodeCall appending to dst.
func encodeCallInto(dst []byte, t ipc.MsgType, hdr *ipc.CallHeader, withHdr bool, req msgp.Marshaler) (frame []byte, hdrLen int, err error) {
	if withHdr {
		dst = hdr.AppendFrame(dst, 0)
		hdrLen = len(dst)
	}
	frame, err = ipc.AppendMsgFrame(dst, ipc.Header{MsgType: t}, req)
	if err != nil {
		return nil, 0, fmt.Errorf("encode request: %w", err)
	}
	return frame, hdrLen, nil
}

// patchSeqs writes seq into the frame of a call, and into its header's.
func patchSeqs(frame []byte, hdrLen int, seq uint64) {
	binary.BigEndian.PutUint64(frame[seqOffset:], seq)
	if hdrLen > 0 {
		binary.BigEndian.PutUint64(frame[hdrLen+seqOffset:], seq)
	}
}

// cancelRemote queues a Cancel for seq behind the writer, or writes it on
// a goroutine of its own (the flush goroutine) when the writer is free, so
// that a call giving up never blocks on it.
func (c *Conn) cancelRemote(seq uint64) {
	c.mu.Lock()
	c.cancelLocked(seq)
	c.mu.Unlock()
}
