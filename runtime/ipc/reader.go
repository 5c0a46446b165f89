package ipc

import (
	"bufio"
	"errors"
	"io"
	"slices"
)

// readBufferSize is the FrameReader's buffer: a small frame costs one read.
const readBufferSize = 16 << 10

// FrameReader reads frames from a byte stream through a buffer. It is not
// safe for concurrent use; one goroutine reads a connection.
type FrameReader struct {
	br  *bufio.Reader
	max uint32
	hdr [HeaderSize]byte
}

// NewFrameReader returns a reader that rejects payloads longer than
// maxPayload (0 or more than MaxPayloadSize means MaxPayloadSize) before
// reading or allocating them.
func NewFrameReader(r io.Reader, maxPayload uint32) *FrameReader {
	return NewFrameReaderSize(r, maxPayload, readBufferSize)
}

// NewFrameReaderSize is NewFrameReader with a read buffer of size bytes
// (at least HeaderSize): a server holding many idle connections keeps its
// memory per connection small with a few KiB. Bodies larger than the buffer
// are read straight into their destination.
func NewFrameReaderSize(r io.Reader, maxPayload uint32, size int) *FrameReader {
	return &FrameReader{br: bufio.NewReaderSize(r, max(size, HeaderSize)), max: limit(maxPayload)}
}

// ReadFrame reads the next frame into a newly allocated payload slice (nil
// for a zero-length payload). It returns io.EOF on a clean end between
// frames, io.ErrUnexpectedEOF on a truncated header or body, and
// ErrInvalidMagic, ErrUnsupportedVersion or ErrFrameTooLarge (wrapped) for
// framing errors, after which the stream is unusable.
func (r *FrameReader) ReadFrame() (Header, []byte, error) {
	return r.ReadFrameInto(nil)
}

// ReadFrameInto is ReadFrame reading the payload into buf's backing array
// when it is large enough, so a loop that passes the previous payload back
// allocates nothing. The returned payload aliases buf; it is valid until buf
// is reused.
func (r *FrameReader) ReadFrameInto(buf []byte) (Header, []byte, error) {
	h, err := r.ReadHeader()
	if err != nil {
		return h, nil, err
	}
	body, err := r.ReadBodyInto(buf, h.Length)
	if err != nil {
		return h, nil, err
	}
	return h, body, nil
}

// growStep is the body size up to which a reader allocates a frame's
// declared length at once; past it the buffer grows as bytes arrive.
const growStep = 64 << 10

// ReadBodyInto reads the n payload bytes following a header from ReadHeader
// into buf's backing array, or a new one when buf is too small, and returns
// them. A body over 64 KiB that buf cannot hold is read in chunks into a
// buffer that at most doubles per chunk, so a peer that sends a header
// declaring 16 MiB and then stalls costs 64 KiB, not 16 MiB.
func (r *FrameReader) ReadBodyInto(buf []byte, n uint32) ([]byte, error) {
	size := int(n)
	if cap(buf) >= size || size <= growStep {
		if cap(buf) < size {
			buf = make([]byte, size)
		}
		body := buf[:size]
		if _, err := io.ReadFull(r.br, body); err != nil {
			return nil, eofIsUnexpected(err)
		}
		return body, nil
	}
	buf = buf[:0]
	for len(buf) < size {
		chunk := min(size-len(buf), max(growStep, len(buf)))
		buf = slices.Grow(buf, chunk)
		start := len(buf)
		buf = buf[:start+chunk]
		if _, err := io.ReadFull(r.br, buf[start:]); err != nil {
			return nil, eofIsUnexpected(err)
		}
	}
	return buf, nil
}

// ReadHeader reads and checks the next header only; the caller must then
// consume exactly h.Length payload bytes with ReadBody.
func (r *FrameReader) ReadHeader() (Header, error) {
	n, err := io.ReadFull(r.br, r.hdr[:])
	if err != nil {
		if n == 0 && errors.Is(err, io.EOF) {
			return Header{}, io.EOF
		}
		return Header{}, eofIsUnexpected(err)
	}
	return ParseHeader(r.hdr[:], r.max)
}

// ReadBody reads len(p) payload bytes following a header from ReadHeader.
func (r *FrameReader) ReadBody(p []byte) error {
	_, err := io.ReadFull(r.br, p)
	return eofIsUnexpected(err)
}

// Fill reads from the stream into the read buffer, consuming nothing,
// until the buffer is full (it returns nil) or a read fails (it returns that
// error; the bytes read so far stay buffered). A server uses it to notice a
// peer hanging up while it wants no request, taking in at most the buffer.
func (r *FrameReader) Fill() error {
	_, err := r.br.Peek(r.br.Size())
	return err
}

// Buffered returns the number of bytes read from the stream but not yet
// consumed.
func (r *FrameReader) Buffered() int { return r.br.Buffered() }

func eofIsUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
