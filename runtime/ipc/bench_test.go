package ipc

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

var benchSizes = []int{0, 64, 4 << 10, 64 << 10}

func BenchmarkWriteFrame(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("%dB", n), func(b *testing.B) {
			w := NewFrameWriter(io.Discard)
			p := make([]byte, n)
			h := Header{MsgType: 0xA5, Length: uint32(n)}
			b.SetBytes(int64(HeaderSize + n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := w.WriteFrame(h, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendMsgFrame(b *testing.B) {
	m := &testMsg{Name: "worker-1", N: 42}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendMsgFrame(buf[:0], Header{MsgType: 0xA3, SeqNo: 1}, m); err != nil {
			b.Fatal(err)
		}
	}
}

// loopReader replays one frame forever.
type loopReader struct {
	frame []byte
	off   int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], l.frame[l.off:])
		n += c
		l.off = (l.off + c) % len(l.frame)
	}
	return n, nil
}

func BenchmarkReadFrame(b *testing.B) {
	for _, n := range benchSizes {
		f, _ := AppendFrame(nil, Header{MsgType: 0xA5, Length: uint32(n)}, bytes.Repeat([]byte{1}, n))
		b.Run(fmt.Sprintf("%dB", n), func(b *testing.B) {
			r := NewFrameReader(&loopReader{frame: f}, 0)
			b.SetBytes(int64(len(f)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := r.ReadFrame(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("%dB/into", n), func(b *testing.B) {
			r := NewFrameReader(&loopReader{frame: f}, 0)
			buf := make([]byte, 0, n)
			b.SetBytes(int64(len(f)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := r.ReadFrameInto(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBatchWriter is one frame written by one of several goroutines
// sharing a BatchWriter (frames ready together share a Write).
func BenchmarkBatchWriter(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("%dB", n), func(b *testing.B) {
			w := NewBatchWriter(io.Discard)
			p := make([]byte, n)
			h := Header{MsgType: 0xA5, Length: uint32(n)}
			b.SetBytes(int64(HeaderSize + n))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := w.WriteFrame(h, p); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
