package ipc

import (
	"io"
	"sync"
)

// keepBufferSize is the largest frame buffer a FrameWriter keeps between
// writes; a larger one is dropped after use so that one huge frame does not
// pin its memory for the connection's lifetime.
const keepBufferSize = 1 << 20

// FrameWriter writes frames to a byte stream, each with exactly one Write
// call (header and payload contiguous), so frames from concurrent writers
// never interleave. It is safe for concurrent use.
type FrameWriter struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

// NewFrameWriter returns a FrameWriter on w.
func NewFrameWriter(w io.Writer) *FrameWriter {
	return &FrameWriter{w: w}
}

// WriteFrame writes one frame. h.Length must equal len(payload)
// (ErrLengthMismatch otherwise) and payloads over MaxPayloadSize fail with
// ErrFrameTooLarge; nothing is written in either case. It returns the number
// of bytes written, header included.
func (w *FrameWriter) WriteFrame(h Header, payload []byte) (int, error) {
	if uint64(h.Length) != uint64(len(payload)) {
		return 0, ErrLengthMismatch
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	frame, err := AppendFrame(w.buf[:0], h, payload)
	if err != nil {
		return 0, err
	}
	n, err := w.w.Write(frame)
	w.keep(frame)
	return n, err
}

// WriteRaw writes frame, a whole frame built with AppendFrame or
// AppendMsgFrame, with one Write call. It does not check the frame.
func (w *FrameWriter) WriteRaw(frame []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(frame)
}

func (w *FrameWriter) keep(frame []byte) {
	if cap(frame) > keepBufferSize {
		w.buf = nil
		return
	}
	w.buf = frame[:0]
}
