package bench

import (
	"testing"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/vmihailenco/msgpack/v5"
)

// BenchmarkFrameDecode models reading one Logs stream frame off a socket
// and decoding it, the job an aliasing decoder would change (bench/README,
// "Could large bytes alias the frame?"): frames come from an endless reader
// (a copy per read, like the kernel's) through ipc.FrameReader's 16 KiB
// buffer.
//
//   - impl=reflect: cliwrap's way, ReadFrame into a fresh buffer, then
//     msgpack.Unmarshal into a new struct (Data copied out of the buffer).
//   - impl=mgmtgen: the runtime's way, ReadFrameInto a reused buffer, then
//     the generated UnmarshalMsg into a new struct (Data copied out).
//   - impl=alias-floor: ReadFrame into a fresh buffer and no decode at all:
//     the least an aliasing decoder (Data a slice of a body read into
//     memory of its own, never reused) could cost, the parse of the other
//     fields left out.
func BenchmarkFrameDecode(b *testing.B) {
	for _, c := range codecCases() {
		if c.name[:4] != "Logs" {
			continue
		}
		body := must(c.msg.MarshalMsg(nil))
		frame, err := ipc.AppendFrame(nil, ipc.Header{MsgType: mgmt.MsgLogsStream, SeqNo: 1, Length: uint32(len(body))}, body)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name+"/impl=reflect", func(b *testing.B) {
			fr := ipc.NewFrameReader(&loopReader{b: frame}, 0)
			codecLoop(b, len(frame), func() error {
				_, data, err := fr.ReadFrame()
				if err != nil {
					return err
				}
				return msgpack.Unmarshal(data, c.refl())
			})
		})
		b.Run(c.name+"/impl=mgmtgen", func(b *testing.B) {
			fr := ipc.NewFrameReader(&loopReader{b: frame}, 0)
			var buf []byte
			codecLoop(b, len(frame), func() error {
				_, data, err := fr.ReadFrameInto(buf)
				if err != nil {
					return err
				}
				buf = data[:0]
				_, err = c.fresh().UnmarshalMsg(data)
				return err
			})
		})
		b.Run(c.name+"/impl=alias-floor", func(b *testing.B) {
			fr := ipc.NewFrameReader(&loopReader{b: frame}, 0)
			codecLoop(b, len(frame), func() error {
				_, data, err := fr.ReadFrame()
				sinkBytes = data
				return err
			})
		})
	}
}

var sinkBytes []byte

// loopReader reads b over and over, without end.
type loopReader struct {
	b   []byte
	off int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.b[r.off:])
		n += c
		r.off = (r.off + c) % len(r.b)
	}
	return n, nil
}
