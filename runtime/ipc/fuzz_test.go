package ipc

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzReadFrame feeds arbitrary bytes to a FrameReader with a small limit:
// it must never panic, never return a body longer than the limit, and end
// every stream with io.EOF, io.ErrUnexpectedEOF or a framing error.
func FuzzReadFrame(f *testing.F) {
	seed := func(h Header, p []byte) []byte { b, _ := AppendFrame(nil, h, p); return b }
	f.Add([]byte{})
	f.Add(seed(Header{MsgType: 0xA0, SeqNo: 1}, nil))
	f.Add(seed(Header{MsgType: 0xA2, SeqNo: 2}, []byte{0x81, 0xa2, 'i', 'd', 0xa1, 'x'}))
	f.Add(append(seed(Header{MsgType: 0xA0, SeqNo: 1}, nil), seed(Header{MsgType: 0xA4, SeqNo: 2}, []byte{0x80})...))
	f.Add(AppendHeader(nil, Header{MsgType: 0xA1, Length: ^uint32(0)}))
	f.Add([]byte{0xC1, 0xD9, 0x02, 0xA0})
	f.Add(bytes.Repeat([]byte{0xC1}, 40))
	const limit = 4096
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewFrameReader(bytes.NewReader(data), limit)
		for range len(data) + 1 {
			h, body, err := r.ReadFrame()
			if err != nil {
				if err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrInvalidMagic) &&
					!errors.Is(err, ErrUnsupportedVersion) && !errors.Is(err, ErrFrameTooLarge) {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if len(body) > limit || int(h.Length) != len(body) {
				t.Fatalf("header %+v with %d body bytes", h, len(body))
			}
		}
		t.Fatal("reader made no progress")
	})
}
