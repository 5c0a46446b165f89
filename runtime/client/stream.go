package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/status"
)

// Stream is cliwrap's untyped stream start: it sends a streaming request on
// this connection, which is then dedicated to the stream; read its frames
// with ReadFrame. Unary calls on the connection fail from then on.
func (c *Conn) Stream(t ipc.MsgType, payload any) error {
	m, err := asMarshaler(payload)
	if err != nil {
		return err
	}
	bp, frame, err := encode(t, m)
	if err != nil {
		return fmt.Errorf("client: stream %s: %w", t, err)
	}
	defer recycle(bp, frame)
	c.mu.Lock()
	c.dropHelloLocked() // a dedicated stream of this API speaks the base protocol
	if c.extended() && slices.Contains(c.features, "mux") {
		// The server runs it as a mux stream: its caller reads the socket
		// itself, which is its flow control, so the window is all of it
		// (send gives the credit the request's seq).
		frame = ipc.AppendStreamCredit(frame, 0, math.MaxUint32, unlimitedStreamBytes)
	}
	c.mu.Unlock()
	if err := c.send(context.Background(), frame, nil); err != nil {
		return fmt.Errorf("client: stream %s: %w", t, err)
	}
	return nil
}

// ReadFrame reads the next frame of a stream started with Stream; one
// goroutine at a time may call it. The payload is the caller's. When the
// connection ends it returns the connection's error, which matches io.EOF
// when the server closed it.
func (c *Conn) ReadFrame() (ipc.Header, []byte, error) {
	return c.readStreamFrame(nil)
}

// readStreamFrame is ReadFrame reading into buf's backing array when it is
// large enough.
func (c *Conn) readStreamFrame(buf []byte) (ipc.Header, []byte, error) {
	c.mu.Lock()
	streaming, err := c.streaming, c.err
	c.mu.Unlock()
	switch {
	case err != nil:
		return ipc.Header{}, nil, err
	case !streaming:
		return ipc.Header{}, nil, errors.New("client: ReadFrame without Stream")
	}
	for {
		c.sframe.buf = buf
		err = c.readFrame()
		f := c.cur
		c.cur = frameState{}
		if err != nil {
			c.fail(err)
			return ipc.Header{}, nil, c.Err()
		}
		if c.state.Load() == stateHello {
			// The first frame on a stream's connection that said hello
			// is the hello's answer: the server answers it first.
			c.helloAnswered(f.h, f.body)
			if err := c.Err(); err != nil {
				return ipc.Header{}, nil, err
			}
			if !c.extended() {
				return ipc.Header{}, nil, errLegacyStream
			}
			continue
		}
		return f.h, f.body, nil
	}
}

// errLegacyStream: the hello's answer said legacy; the stream's first
// frame is still to come (awaitReady returns without waiting for it).
var errLegacyStream = errors.New("client: legacy stream")

// OpenStream sends req as a frame of type info.Request and returns the
// stream of info.Response frames. On a connection that negotiated the
// feature "mux" the stream shares this connection with its calls (mux.go);
// on any other it dials a connection of its own. ctx bounds the dial and
// the whole stream: when it ends the stream ends (its own connection is
// closed, or a mux stream is cancelled) and RecvInto returns ctx's error.
// On an extended connection OpenStream returns once the stream is live
// (the handler's Ready, or its first frame or end).
func (c *Conn) OpenStream(ctx context.Context, info *CallInfo, req msgp.Marshaler) (*Stream, error) {
	if err := c.Err(); err != nil {
		return nil, err
	}
	if c.stream == nil {
		return c.openStream(ctx, info, req)
	}
	return c.stream(ctx, info, req, func(ctx context.Context, req msgp.Marshaler) (*Stream, error) {
		return c.openStream(ctx, info, req)
	})
}

func (c *Conn) openStream(ctx context.Context, info *CallInfo, req msgp.Marshaler) (*Stream, error) {
	if c.HasFeature(ctx, "mux") {
		m, err := asMarshaler(req)
		if err != nil {
			return nil, err
		}
		return c.openMux(ctx, info, m)
	}
	sc, err := DialContext(ctx, c.path, Options{MaxPayload: c.opts.MaxPayload, DialTimeout: c.opts.DialTimeout,
		ServerUID: c.opts.ServerUID, ErrorText: c.opts.ErrorText, Dial: c.opts.Dial, Negotiate: c.opts.Negotiate, Legacy: c.opts.Legacy})
	if err != nil {
		return nil, err
	}
	m, err := asMarshaler(req)
	if err == nil {
		err = sc.startStream(info.Request, m)
	}
	if err != nil {
		sc.Close()
		return nil, err
	}
	s := &Stream{c: sc, info: *info, ctx: ctx}
	s.stop = context.AfterFunc(ctx, func() { sc.fail(ctx.Err()) })
	if err := s.awaitReady(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// startStream sends the stream request (with the hello, if it is to go).
func (c *Conn) startStream(t ipc.MsgType, m msgp.Marshaler) error {
	bp, frame, err := encode(t, m)
	if err != nil {
		return fmt.Errorf("client: stream %s: %w", t, err)
	}
	defer recycle(bp, frame)
	if err := c.send(context.Background(), frame, nil); err != nil {
		return fmt.Errorf("client: stream %s: %w", t, err)
	}
	return nil
}

// awaitReady returns once the stream is live. On a connection that said
// hello it reads the hello's answer; on an extended one, then the stream's
// Ready, or its first frame or its end (kept for RecvInto). A legacy
// stream is live once its request is written.
func (s *Stream) awaitReady() error {
	if s.mux {
		h, body, err := s.muxNext()
		if err != nil {
			return err
		}
		if h.MsgType != ipc.MsgReady {
			s.pend, s.pendBody = &h, body
		}
		return nil
	}
	if s.c.state.Load() != stateHello && !s.c.extended() {
		return nil
	}
	h, body, err := s.c.readStreamFrame(nil)
	switch {
	case errors.Is(err, errLegacyStream):
		return nil
	case err != nil:
		return s.recvErr(err)
	case h.MsgType != ipc.MsgReady:
		s.pend, s.pendBody = &h, body
	}
	return nil
}

// recvErr is the error of a failed read of the stream.
func (s *Stream) recvErr(err error) error {
	if cerr := s.ctx.Err(); cerr != nil {
		return fmt.Errorf("client: %s stream: %w", s.info.Method, cerr)
	}
	if errors.Is(err, io.EOF) {
		if s.c.extended() {
			// An extended stream ends with its StreamEnd, never a bare close.
			return fmt.Errorf("client: %s stream: the connection closed before the stream's end: %w", s.info.Method, io.ErrUnexpectedEOF)
		}
		return io.EOF
	}
	return err
}

// Stream is the client side of one streaming call, on its own connection
// or multiplexed on its Conn (mux.go). One goroutine at a time may call
// RecvInto; Close may be called from any.
type Stream struct {
	c    *Conn // the stream's own connection, or the shared one (mux)
	info CallInfo
	ctx  context.Context
	stop func() bool
	buf  []byte // frame buffer reused by RecvInto

	lent    []byte // the buffer a typed RecvInto's byte slice aliases from lentOff (lend.go)
	lentOff int

	pend     *ipc.Header // a frame awaitReady read, for the first RecvInto
	pendBody []byte
	end      error // after the stream's end: io.EOF or its error, again

	// A mux stream's (mux.go).
	mux    bool
	seq    uint64             // its request's
	cancel context.CancelFunc // ends ctx
	rcall  *call              // the stream's Recv as the reading role sees it
	// Flow control (mux.go), the Recv side's own:
	creditAt  int           // offset of the first StreamCredit in the request's frame
	ungFrames int           // frames consumed and not yet granted back
	ungBytes  int           // their body bytes
	wake      chan struct{} // (1) a frame was queued, or the stream or connection ended
	// Guarded by c.mu:
	q        []queuedFrame // frames read for Recv, in order
	qbytes   int           // their body bytes, and the frame being read into the queue
	over     error         // ended on the client's side: Recv's error once q is empty
	waiting  bool          // Recv waits for a frame or the reading role
	lastSeen bool          // the last frame came: the server ends the stream itself
}

// keepStreamBuf is the largest read buffer a Stream keeps between frames.
const keepStreamBuf = 1 << 20

// RecvInto reads the next frame into m. It returns io.EOF when the server
// ended the stream (closed the connection). A frame of another type than the
// stream's fails with a *ResponseTypeError naming both types. The generated
// typed stream turns the schema's last frame into io.EOF on the following Recv.
//
// The frame is read into a buffer the stream reuses, so m must not keep
// references into it (generated payload types copy what they decode).
// RecvInto is not safe for concurrent use.
func (s *Stream) RecvInto(m msgp.Unmarshaler) error {
	return s.recvInto(m, nil, "")
}

// recvInto is RecvInto; dst, when not nil, is m's byte slice whose wire
// key is key, decoded in place when it can be (lend.go).
func (s *Stream) recvInto(m msgp.Unmarshaler, dst *[]byte, key string) error {
	if s.end != nil {
		return s.end
	}
	back := dst != nil && s.lentBack(*dst)
	lent, own := s.lent, s.buf
	s.lent = nil // the caller's, unless lent again
	if back {
		s.buf = lent[:0] // the frame is read into it
	}
	h, body, err := s.next()
	if back {
		s.buf = own
	}
	if err != nil {
		if s.mux {
			return err
		}
		return s.recvErr(err)
	}
	if s.c.extended() {
		switch h.MsgType {
		case ipc.MsgStreamEnd:
			var st ipc.Status
			switch {
			case ipc.DecodePayload(body, &st) != nil:
				s.end = &RemoteError{Method: s.info.Method, Code: status.Internal, Text: "malformed stream end from the server"}
			case st.Code == 0:
				s.end = io.EOF
			default:
				s.end = &RemoteError{Method: s.info.Method, Text: st.Message, Code: status.Code(st.Code), Details: st.Details}
			}
			return s.end
		case ipc.MsgError:
			s.end = remoteError(s.info.Method, body)
			return s.end
		}
	}
	if h.MsgType != s.info.Response {
		// A stream that fails before its first frame is answered with the
		// protocol's error response.
		if s.c.opts.ErrorText != nil {
			if text, ok := s.c.opts.ErrorText(h.MsgType, body); ok {
				return &RemoteError{Method: s.info.Method, Text: text, Code: status.Unknown}
			}
		}
		return &ResponseTypeError{Method: s.info.Method, Got: h.MsgType, Want: s.info.Response}
	}
	if dst != nil {
		s.place(dst, body, key, back, lent)
	}
	if err := ipc.DecodePayload(body, m); err != nil {
		return fmt.Errorf("client: %s: decode stream frame: %w", s.info.Method, err)
	}
	return nil
}

// next reads the stream's next frame that is not its Ready.
func (s *Stream) next() (ipc.Header, []byte, error) {
	if s.pend != nil && s.mux {
		s.c.mu.Lock()
		if err := s.overErrLocked(); err != nil {
			s.pend, s.pendBody = nil, nil // the stream ended before this frame was taken
		}
		s.c.mu.Unlock()
	}
	if s.pend != nil {
		h, body := *s.pend, s.pendBody
		s.pend, s.pendBody = nil, nil
		if h.MsgType != ipc.MsgReady {
			return h, body, nil
		}
	}
	if s.mux {
		for {
			h, body, err := s.muxNext()
			if err != nil || h.MsgType != ipc.MsgReady {
				return h, body, err
			}
		}
	}
	for {
		h, body, err := s.c.readStreamFrame(s.buf)
		if cap(body) <= keepStreamBuf {
			s.buf = body[:0]
		}
		if err != nil || h.MsgType != ipc.MsgReady || !s.c.extended() {
			return h, body, err
		}
	}
}

// Close ends the stream and closes its connection; a mux stream is
// cancelled (the server's handler's context ends) and forgotten, and its
// connection goes on.
func (s *Stream) Close() error {
	if s.mux {
		s.muxEnded(errStreamClosed)
		s.stop()
		s.cancel()
		s.wakeRecv()
		return nil
	}
	s.stop()
	return s.c.Close()
}

// closeLast closes the stream after its last frame: a mux stream's end is
// still to come from the server, which needs no Cancel.
func (s *Stream) closeLast() error {
	if s.mux {
		s.c.mu.Lock()
		s.lastSeen = true
		s.c.mu.Unlock()
	}
	return s.Close()
}
