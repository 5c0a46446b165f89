package ipc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/msgpx"
)

// refMsg is a RefMarshaler: a msgpack array of its values, as bin, the
// way a generated struct encodes a bytes field.
type refMsg struct {
	vals  [][]byte
	refs  *atomic.Int32 // counts MarshalMsgRefs calls that left a value out
	panic bool          // MarshalMsgRefs panics after recording its values
}

func (m *refMsg) MarshalMsg(b []byte) ([]byte, error) { return m.MarshalMsgRefs(b, nil) }

func (m *refMsg) MarshalMsgRefs(b []byte, r *msgpx.Refs) ([]byte, error) {
	n := r.Len()
	b = msgp.AppendArrayHeader(b, uint32(len(m.vals)))
	for _, v := range m.vals {
		b = msgpx.AppendBytesRef(b, v, r)
	}
	if m.panic {
		panic("refMsg")
	}
	if m.refs != nil && r.Len() > n {
		m.refs.Add(1)
	}
	return b, nil
}

// pattern is n bytes of a pattern that tells values apart.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

// wantFrames is the frames' bytes as MarshalMsg encodes them.
func wantFrames(t *testing.T, hs []Header, ms []msgp.Marshaler) []byte {
	t.Helper()
	var out []byte
	for i, m := range ms {
		var err error
		if out, err = AppendMsgFrame(out, hs[i], m); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// readN reads n bytes from c in the background.
func readN(c net.Conn, n int) <-chan []byte {
	got := make(chan []byte, 1)
	go func() {
		b := make([]byte, n)
		k, _ := io.ReadFull(c, b)
		got <- b[:k]
	}()
	return got
}

var refSizes = []int{0, 100, msgpx.RefMin - 1, msgpx.RefMin, msgpx.RefMin + 1, 64 << 10, 1 << 20}

// On a socket, frames with bytes values below, at and above msgpx.RefMin,
// alone or several in a frame, written by each method whose caller writes,
// with and without a timeout (writev through the socket's own Write, or
// without waiting and then under the deadline) and larger than the
// socket's buffer (partial writes): the stream is MarshalMsg's frames byte
// for byte, and values of RefMin or more were not copied.
func TestBatchWriterRefsWire(t *testing.T) {
	for _, timeout := range []time.Duration{0, 10 * time.Second} {
		for _, method := range []string{"WriteMsg", "QueueMsg", "SendMsg"} {
			t.Run(fmt.Sprintf("%s/timeout=%v", method, timeout), func(t *testing.T) {
				a, b := socketPair(t)
				w := NewBatchWriter(a)
				w.SetTimeout(timeout)
				w.SetWritten(func(int, error) {})
				var refs atomic.Int32
				var hs []Header
				var ms []msgp.Marshaler
				for i, n := range refSizes {
					hs = append(hs, Header{MsgType: 0xA5, SeqNo: uint64(i)})
					ms = append(ms, &refMsg{vals: [][]byte{pattern(n, byte(i))}, refs: &refs})
				}
				hs = append(hs, Header{MsgType: 0xA5, SeqNo: 99}) // several values, two left out
				ms = append(ms, &refMsg{vals: [][]byte{pattern(10, 1), pattern(msgpx.RefMin, 2), pattern(5, 3), pattern(70000, 4), {}}, refs: &refs})
				want := wantFrames(t, hs, ms)
				got := readN(b, len(want))
				for i, m := range ms {
					var err error
					switch method {
					case "WriteMsg":
						err = w.WriteMsg(hs[i], m)
					case "QueueMsg":
						_, err = w.QueueMsg(hs[i], m)
					case "SendMsg":
						if err = w.SendMsg(hs[i], m, 32<<10); err == nil {
							err = w.Wait() // no flush goroutine writing when the next frame comes
						}
					}
					if err != nil {
						t.Fatalf("frame %d: %v", i, err)
					}
				}
				if err := w.Wait(); err != nil {
					t.Fatal(err)
				}
				if g := <-got; !bytes.Equal(g, want) {
					t.Fatalf("the stream differs from MarshalMsg's frames (%d bytes, want %d)", len(g), len(want))
				}
				if n := refs.Load(); n != 5 { // RefMin, RefMin+1, 64 KiB, 1 MiB, the mixed frame
					t.Errorf("%d frames left values out, want 5", n)
				}
			})
		}
	}
}

// A writer that is not a socket copies every value (one Write per batch,
// as before), with the same bytes.
func TestBatchWriterRefsNotSocket(t *testing.T) {
	var buf bytes.Buffer
	w := NewBatchWriter(&buf)
	var refs atomic.Int32
	m := &refMsg{vals: [][]byte{pattern(64<<10, 9)}, refs: &refs}
	if err := w.WriteMsg(Header{MsgType: 0xA5}, m); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), wantFrames(t, []Header{{MsgType: 0xA5}}, []msgp.Marshaler{m})) || refs.Load() != 0 {
		t.Fatalf("not a socket: %d bytes, %d frames with values left out", buf.Len(), refs.Load())
	}
}

// The lifetime rule: once a method returns, the message's memory is its
// caller's again. Senders overwrite their values right after each call,
// while a second goroutine's small frames keep the flush goroutine busy
// (so some frames wait for another goroutine's write and some are written
// by their own caller): every frame arrives as it was when sent.
func TestBatchWriterRefsLifetime(t *testing.T) {
	a, b := socketPair(t)
	w := NewBatchWriter(a)
	w.SetTimeout(10 * time.Second)
	w.SetWritten(func(int, error) {})
	const frames = 200
	sizes := []int{10, msgpx.RefMin - 1, msgpx.RefMin, 64 << 10}
	done := make(chan error, 1)
	go func() { // the reader: frames of seq < frames carry pattern(size, seq)
		fr := NewFrameReader(b, 0)
		for i := 0; i < 2*frames; i++ {
			h, body, err := fr.ReadFrame()
			if err != nil {
				done <- err
				return
			}
			if h.SeqNo >= frames {
				continue
			}
			n := sizes[h.SeqNo%uint64(len(sizes))]
			want, _ := (&refMsg{vals: [][]byte{pattern(n, byte(h.SeqNo))}}).MarshalMsg(nil)
			if !bytes.Equal(body, want) {
				done <- fmt.Errorf("frame %d (%d bytes) changed on the way", h.SeqNo, n)
				return
			}
		}
		done <- nil
	}()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // small frames, queued for the flush goroutine
		defer wg.Done()
		for i := range frames {
			if err := w.SendMsg(Header{MsgType: 0xA6, SeqNo: uint64(frames + i)}, &refMsg{vals: [][]byte{pattern(50, 0)}}, 32<<10); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	bufs := make([][]byte, len(sizes))
	for i, n := range sizes {
		bufs[i] = make([]byte, n)
	}
	for i := range frames {
		v := bufs[i%len(sizes)]
		copy(v, pattern(len(v), byte(i)))
		h := Header{MsgType: 0xA5, SeqNo: uint64(i)}
		m := &refMsg{vals: [][]byte{v}}
		var err error
		switch i % 3 {
		case 0:
			err = w.SendMsg(h, m, 32<<10)
		case 1:
			err = w.WriteMsg(h, m)
		case 2:
			_, err = w.QueueMsg(h, m)
		}
		if err != nil {
			t.Fatal(err)
		}
		for j := range v { // the handler reuses its buffer at once
			v[j] = 0xEE
		}
	}
	wg.Wait()
	if err := w.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A frame waiting behind another goroutine's write (WriteMsg) leaves its
// values out too and goes with the next batch, behind a held frame: the
// stream is the frames in order, byte for byte.
func TestBatchWriterRefsBehindAWrite(t *testing.T) {
	a, b := socketPair(t)
	w := NewBatchWriter(a)
	w.SetTimeout(10 * time.Second)
	w.SetWritten(func(int, error) {})
	var refs atomic.Int32
	big := &refMsg{vals: [][]byte{pattern(8<<20, 1)}, refs: &refs} // fills the socket: the write waits for the reader
	held := &refMsg{vals: [][]byte{pattern(100, 2)}}
	behind := &refMsg{vals: [][]byte{pattern(64<<10, 3)}, refs: &refs}
	hs := []Header{{MsgType: 0xA5, SeqNo: 1}, {MsgType: 0xA5, SeqNo: 2}, {MsgType: 0xA5, SeqNo: 3}}
	want := wantFrames(t, hs, []msgp.Marshaler{big, held, behind})

	first := make(chan error, 1)
	go func() { first <- w.WriteMsg(hs[0], big) }()
	for { // until the first write is under way
		w.mu.Lock()
		writing := w.writing
		w.mu.Unlock()
		if writing {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := w.HoldMsg(hs[1], held); err != nil {
		t.Fatal(err)
	}
	second := make(chan error, 1)
	go func() { second <- w.WriteMsg(hs[2], behind) }()
	for { // until the second frame is queued
		w.mu.Lock()
		n := w.refs.Len()
		w.mu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	got := readN(b, len(want))
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	if g := <-got; !bytes.Equal(g, want) {
		t.Fatalf("the stream differs from MarshalMsg's frames (%d bytes, want %d)", len(g), len(want))
	}
	if refs.Load() != 2 {
		t.Fatalf("%d frames left values out, want 2", refs.Load())
	}
}

// Limits and failures with values left out: a frame whose values make it
// larger than MaxPayloadSize fails with ErrFrameTooLarge and a panicking
// MarshalMsgRefs with ErrEncodePanic, nothing of either is written, their
// values are dropped from the queue, and the writer goes on.
func TestBatchWriterRefsRefused(t *testing.T) {
	a, b := socketPair(t)
	w := NewBatchWriter(a)
	huge := &refMsg{vals: [][]byte{make([]byte, MaxPayloadSize/2), make([]byte, MaxPayloadSize/2)}}
	if err := w.WriteMsg(Header{MsgType: 0xA5}, huge); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("frame over MaxPayloadSize: %v, want ErrFrameTooLarge", err)
	}
	if err := w.SendMsg(Header{MsgType: 0xA5}, huge, 32<<10); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("SendMsg, frame over MaxPayloadSize: %v, want ErrFrameTooLarge", err)
	}
	bad := &refMsg{vals: [][]byte{make([]byte, msgpx.RefMin)}, panic: true}
	if err := w.WriteMsg(Header{MsgType: 0xA5}, bad); !errors.Is(err, ErrEncodePanic) {
		t.Fatalf("panicking MarshalMsgRefs: %v, want ErrEncodePanic", err)
	}
	w.mu.Lock()
	left, pending := w.refs.Len(), len(w.pending)
	w.mu.Unlock()
	if left != 0 || pending != 0 {
		t.Fatalf("after the refused frames: %d values and %d bytes queued", left, pending)
	}
	ok := &refMsg{vals: [][]byte{pattern(msgpx.RefMin, 5)}}
	want := wantFrames(t, []Header{{MsgType: 0xA5, SeqNo: 7}}, []msgp.Marshaler{ok})
	got := readN(b, len(want))
	if err := w.WriteMsg(Header{MsgType: 0xA5, SeqNo: 7}, ok); err != nil {
		t.Fatal(err)
	}
	if g := <-got; !bytes.Equal(g, want) {
		t.Fatal("the frame after the refused ones differs")
	}
}

// A write that fails drops the values of the frames queued behind it.
func TestBatchWriterRefsWriteFails(t *testing.T) {
	a, _ := socketPair(t)
	w := NewBatchWriter(a)
	a.Close()
	m := &refMsg{vals: [][]byte{pattern(64<<10, 1)}}
	if err := w.WriteMsg(Header{MsgType: 0xA5}, m); err == nil {
		t.Fatal("write on a closed socket succeeded")
	}
	if w.refs.Len() != 0 || w.wrefs.Len() != 0 || len(w.bufs) != 0 {
		t.Fatal("values kept after a failed write")
	}
}
