package ipc

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

// goldenHeaders are byte-exact vectors derived from the header table of
// docs/wire.md: magic C1 D9, version 01, msgtype, flags, big-endian seq (8 bytes),
// big-endian length (4 bytes).
var goldenHeaders = []struct {
	name string
	h    Header
	hex  string
}{
	{"list request seq 1", Header{MsgType: 0xA0, SeqNo: 1}, "c1d901a0000000000000000001" + "00000000"},
	{"list response seq 1 len 16", Header{MsgType: 0xA1, SeqNo: 1, Length: 16}, "c1d901a1000000000000000001" + "00000010"},
	{"status request seq 2 len 7", Header{MsgType: 0xA2, SeqNo: 2, Length: 7}, "c1d901a2000000000000000002" + "00000007"},
	{"logs stream seq 0 len 64KiB", Header{MsgType: 0xA5, Length: 65536}, "c1d901a5000000000000000000" + "00010000"},
	{"all flags, big seq, max len", Header{MsgType: 0xA9, Flags: FlagAckRequired | FlagIsReplay | FlagFileRef, SeqNo: 0x0102030405060708, Length: MaxPayloadSize},
		"c1d901a907" + "0102030405060708" + "01000000"},
	{"seq all ones", Header{MsgType: 0x00, SeqNo: ^uint64(0), Length: 1}, "c1d9010000ffffffffffffffff" + "00000001"},
}

func TestHeaderGolden(t *testing.T) {
	for _, tc := range goldenHeaders {
		t.Run(tc.name, func(t *testing.T) {
			want, err := hex.DecodeString(tc.hex)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) != HeaderSize {
				t.Fatalf("vector has %d bytes, want %d", len(want), HeaderSize)
			}
			got := AppendHeader(nil, tc.h)
			if !bytes.Equal(got, want) {
				t.Fatalf("AppendHeader = %x\nwant           %x", got, want)
			}
			back, err := ParseHeader(want, 0)
			if err != nil {
				t.Fatal(err)
			}
			if back != tc.h {
				t.Fatalf("ParseHeader = %+v, want %+v", back, tc.h)
			}
		})
	}
}

func TestFlagsHas(t *testing.T) {
	f := FlagAckRequired | FlagFileRef
	if !f.Has(FlagAckRequired) || !f.Has(FlagFileRef) || f.Has(FlagIsReplay) || f.Has(FlagAckRequired|FlagIsReplay) {
		t.Fatalf("Has wrong for %08b", f)
	}
	if FlagAckRequired != 1 || FlagIsReplay != 2 || FlagFileRef != 4 {
		t.Fatal("flag values differ from docs/wire.md")
	}
}

func TestMsgTypeString(t *testing.T) {
	if got := MsgType(0xA3).String(); got != "0xa3" {
		t.Fatalf("got %q", got)
	}
	if got := MsgType(7).String(); got != "0x07" {
		t.Fatalf("got %q", got)
	}
}

func frame(t testing.TB, h Header, payload []byte) []byte {
	t.Helper()
	b, err := AppendFrame(nil, h, payload)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReadFrameSequence(t *testing.T) {
	var stream []byte
	payloads := [][]byte{nil, []byte("x"), bytes.Repeat([]byte{0xAB}, 70000), {}}
	for i, p := range payloads {
		stream = append(stream, frame(t, Header{MsgType: MsgType(0xA0 + i), SeqNo: uint64(i + 1)}, p)...)
	}
	r := NewFrameReader(bytes.NewReader(stream), 0)
	for i, p := range payloads {
		h, body, err := r.ReadFrame()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if h.MsgType != MsgType(0xA0+i) || h.SeqNo != uint64(i+1) || int(h.Length) != len(p) || !bytes.Equal(body, p) {
			t.Fatalf("frame %d: header %+v, %d body bytes", i, h, len(body))
		}
	}
	if _, _, err := r.ReadFrame(); err != io.EOF {
		t.Fatalf("after last frame: %v, want io.EOF", err)
	}
}

func TestReadFrameOneByteReads(t *testing.T) {
	payload := []byte("split across many reads")
	f := frame(t, Header{MsgType: 0xA2, SeqNo: 9}, payload)
	r := NewFrameReader(iotest.OneByteReader(bytes.NewReader(f)), 0)
	h, body, err := r.ReadFrame()
	if err != nil || h.SeqNo != 9 || !bytes.Equal(body, payload) {
		t.Fatalf("got %+v %q %v", h, body, err)
	}
}

func TestReadFrameHeaderSplitOverPipe(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	f := frame(t, Header{MsgType: 0xA0, SeqNo: 1}, nil)
	go func() {
		for i := range f { // 17 one-byte writes
			if _, err := a.Write(f[i : i+1]); err != nil {
				return
			}
		}
	}()
	h, body, err := NewFrameReader(b, 0).ReadFrame()
	if err != nil || h.MsgType != 0xA0 || h.SeqNo != 1 || len(body) != 0 {
		t.Fatalf("got %+v %x %v", h, body, err)
	}
}

func TestReadFrameTruncated(t *testing.T) {
	f := frame(t, Header{MsgType: 0xA1, SeqNo: 1}, []byte("0123456789"))
	for _, n := range []int{1, 5, HeaderSize - 1, HeaderSize, HeaderSize + 3, len(f) - 1} {
		_, _, err := NewFrameReader(bytes.NewReader(f[:n]), 0).ReadFrame()
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("truncated at %d: %v, want io.ErrUnexpectedEOF", n, err)
		}
	}
}

func TestReadFrameBadMagicAndVersion(t *testing.T) {
	good := frame(t, Header{MsgType: 0xA0}, nil)
	cases := []struct {
		at   int
		val  byte
		want error
	}{
		{0, 0x00, ErrInvalidMagic},
		{1, 0xD8, ErrInvalidMagic},
		{2, 0x02, ErrUnsupportedVersion},
		{2, 0x00, ErrUnsupportedVersion},
	}
	for _, c := range cases {
		bad := bytes.Clone(good)
		bad[c.at] = c.val
		_, _, err := NewFrameReader(bytes.NewReader(bad), 0).ReadFrame()
		if !errors.Is(err, c.want) {
			t.Errorf("byte %d = %#x: %v, want %v", c.at, c.val, err, c.want)
		}
	}
}

// headerOnlyReader serves a header and fails the test if anything past it is
// read: an oversized frame must be rejected before its body is touched.
type headerOnlyReader struct {
	t   *testing.T
	hdr []byte
}

func (r *headerOnlyReader) Read(p []byte) (int, error) {
	if len(r.hdr) == 0 {
		r.t.Fatal("read past the header of an oversized frame")
	}
	n := copy(p, r.hdr)
	r.hdr = r.hdr[n:]
	return n, nil
}

func TestReadFrameOversizeRejectedBeforeBody(t *testing.T) {
	for _, tc := range []struct {
		max    uint32
		length uint32
	}{
		{0, MaxPayloadSize + 1},
		{0, ^uint32(0)},
		{1024, 1025},
	} {
		hdr := AppendHeader(nil, Header{MsgType: 0xA1, Length: tc.length})
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		r := NewFrameReader(&headerOnlyReader{t: t, hdr: hdr}, tc.max)
		_, _, err := r.ReadFrame()
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrFrameTooLarge) {
			t.Fatalf("length %d max %d: %v, want ErrFrameTooLarge", tc.length, tc.max, err)
		}
		// The reader's buffer and the error, never the claimed body.
		if got := after.TotalAlloc - before.TotalAlloc; got > 2*readBufferSize {
			t.Errorf("length %d: %d bytes allocated", tc.length, got)
		}
	}
}

func TestReadFrameMaxAllowed(t *testing.T) {
	payload := make([]byte, 1024)
	f := frame(t, Header{MsgType: 0xA5}, payload)
	if _, body, err := NewFrameReader(bytes.NewReader(f), 1024).ReadFrame(); err != nil || len(body) != 1024 {
		t.Fatalf("a payload of exactly maxPayload: %d bytes, %v", len(body), err)
	}
}

func TestReadFrameIntoReusesBuffer(t *testing.T) {
	var stream []byte
	for i := 0; i < 3; i++ {
		stream = append(stream, frame(t, Header{MsgType: 0xA5}, bytes.Repeat([]byte{byte(i)}, 100))...)
	}
	r := NewFrameReader(bytes.NewReader(stream), 0)
	buf := make([]byte, 0, 128)
	for i := 0; i < 3; i++ {
		_, body, err := r.ReadFrameInto(buf)
		if err != nil || len(body) != 100 || body[0] != byte(i) {
			t.Fatalf("frame %d: %d bytes %v", i, len(body), err)
		}
		if &body[0] != &buf[:1][0] {
			t.Fatal("ReadFrameInto did not use the caller's buffer")
		}
	}
}

func TestWriteFrameErrors(t *testing.T) {
	var out bytes.Buffer
	w := NewFrameWriter(&out)
	if _, err := w.WriteFrame(Header{Length: 3}, []byte("ab")); !errors.Is(err, ErrLengthMismatch) {
		t.Fatalf("mismatch: %v", err)
	}
	big := make([]byte, MaxPayloadSize+1)
	if _, err := w.WriteFrame(Header{Length: uint32(len(big))}, big); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("oversize: %v", err)
	}
	if out.Len() != 0 {
		t.Fatalf("%d bytes written on error", out.Len())
	}
}

// countingWriter records the size of every Write call.
type countingWriter struct{ writes []int }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes = append(c.writes, len(p))
	return len(p), nil
}

func TestWriteFrameOneWritePerFrame(t *testing.T) {
	cw := &countingWriter{}
	w := NewFrameWriter(cw)
	for _, n := range []int{0, 1, 4096, 70000} {
		if _, err := w.WriteFrame(Header{MsgType: 0xA5, Length: uint32(n)}, make([]byte, n)); err != nil {
			t.Fatal(err)
		}
	}
	want := []int{17, 18, 17 + 4096, 17 + 70000}
	if len(cw.writes) != len(want) {
		t.Fatalf("writes %v, want %v", cw.writes, want)
	}
	for i := range want {
		if cw.writes[i] != want[i] {
			t.Fatalf("writes %v, want %v", cw.writes, want)
		}
	}
}

func TestRoundTripUnixSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan error, 1)
	go func() { // echo server: reads frames and writes them back with seq+1
		c, err := l.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		r, w := NewFrameReader(c, 0), NewFrameWriter(c)
		for {
			h, body, err := r.ReadFrame()
			if err != nil {
				if err == io.EOF {
					err = nil
				}
				done <- err
				return
			}
			h.SeqNo++
			if _, err := w.WriteFrame(h, body); err != nil {
				done <- err
				return
			}
		}
	}()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	r, w := NewFrameReader(c, 0), NewFrameWriter(c)
	for i, size := range []int{0, 64, 4096, 65536, 1 << 20} {
		p := bytes.Repeat([]byte{byte(i + 1)}, size)
		if _, err := w.WriteFrame(Header{MsgType: 0xA4, SeqNo: uint64(i), Length: uint32(size)}, p); err != nil {
			t.Fatal(err)
		}
		h, body, err := r.ReadFrame()
		if err != nil || h.SeqNo != uint64(i+1) || h.MsgType != 0xA4 || !bytes.Equal(body, p) {
			t.Fatalf("size %d: %+v %v", size, h, err)
		}
	}
	c.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestAppendMsgFrameAndDecode(t *testing.T) {
	m := testMsg{Name: "héllo", N: -7}
	f, err := AppendMsgFrame([]byte("prefix"), Header{MsgType: 0xA3, SeqNo: 4}, &m)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(f), "prefix") {
		t.Fatal("AppendMsgFrame clobbered dst")
	}
	h, body, err := NewFrameReader(bytes.NewReader(f[len("prefix"):]), 0).ReadFrame()
	if err != nil || h.MsgType != 0xA3 || h.SeqNo != 4 {
		t.Fatalf("%+v %v", h, err)
	}
	var back testMsg
	if err := DecodePayload(body, &back); err != nil || back != m {
		t.Fatalf("decoded %+v %v", back, err)
	}
	var zero testMsg
	if err := DecodePayload(nil, &zero); err != nil || zero != (testMsg{}) {
		t.Fatalf("empty body: %+v %v", zero, err)
	}
	if err := DecodePayload(append(bytes.Clone(body), 0xC0), &back); !errors.Is(err, ErrTrailingBytes) {
		t.Fatalf("trailing byte: %v", err)
	}
	if err := DecodePayload([]byte{0x81, 0xA1}, &back); err == nil {
		t.Fatal("truncated payload decoded without error")
	}
}

// stallReader serves its bytes, then fails the test if read again: a peer
// that sent a header and part of the body, then stalled.
type stallReader struct {
	t    *testing.T
	data []byte
}

func (r *stallReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestReadFrameLargeBodyGrowsWithData(t *testing.T) {
	// A header declaring 16 MiB followed by 1 KiB: the reader must not
	// allocate the declared length before the bytes arrive.
	hdr := AppendHeader(nil, Header{MsgType: 0xA5, Length: MaxPayloadSize})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := NewFrameReader(&stallReader{t: t, data: append(hdr, make([]byte, 1024)...)}, 0)
	_, _, err := r.ReadFrame()
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated 16 MiB frame: %v", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 4*growStep {
		t.Errorf("%d bytes allocated for 1 KiB of a frame declaring 16 MiB", got)
	}
	// A whole large frame still arrives intact.
	payload := bytes.Repeat([]byte("0123456789abcdef"), 300<<10/16)
	f := frame(t, Header{MsgType: 0xA5}, payload)
	_, body, err := NewFrameReader(bytes.NewReader(f), 0).ReadFrame()
	if err != nil || !bytes.Equal(body, payload) {
		t.Fatalf("300 KiB frame: %d bytes, %v", len(body), err)
	}
}
