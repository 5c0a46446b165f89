package ipc

import (
	"bufio"
	"errors"
	"io"
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
	return &FrameReader{br: bufio.NewReaderSize(r, readBufferSize), max: limit(maxPayload)}
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
	if h.Length == 0 {
		return h, buf[:0], nil
	}
	if cap(buf) < int(h.Length) {
		buf = make([]byte, h.Length)
	}
	body := buf[:h.Length]
	if _, err := io.ReadFull(r.br, body); err != nil {
		return h, nil, eofIsUnexpected(err)
	}
	return h, body, nil
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

// Buffered returns the number of bytes read from the stream but not yet
// consumed.
func (r *FrameReader) Buffered() int { return r.br.Buffered() }

func eofIsUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
