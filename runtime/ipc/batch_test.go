package ipc

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// gateWriter records every Write; the first one blocks until the test
// closes gate.
type gateWriter struct {
	mu      sync.Mutex
	writes  [][]byte
	gate    chan struct{}
	entered chan struct{} // receives once per Write entered
}

func (g *gateWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	g.writes = append(g.writes, bytes.Clone(p))
	first := len(g.writes) == 1
	g.mu.Unlock()
	g.entered <- struct{}{}
	if first {
		<-g.gate
	}
	return len(p), nil
}

func (g *gateWriter) all() [][]byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.writes
}

// readFrames parses b as whole frames.
func readFrames(t *testing.T, b []byte) []Header {
	t.Helper()
	fr := NewFrameReader(bytes.NewReader(b), 0)
	var hs []Header
	for {
		h, _, err := fr.ReadFrame()
		if errors.Is(err, io.EOF) {
			return hs
		}
		if err != nil {
			t.Fatalf("frame %d: %v", len(hs), err)
		}
		hs = append(hs, h)
	}
}

// Frames queued while a write blocks go out together in the next Write,
// whole and in the order they were queued.
func TestBatchWriterCoalesces(t *testing.T) {
	g := &gateWriter{gate: make(chan struct{}), entered: make(chan struct{}, 16)}
	w := NewBatchWriter(g)
	first := make(chan error, 1)
	go func() { first <- w.WriteMsg(Header{MsgType: 0xA3, SeqNo: 1}, &testMsg{Name: "one"}) }()
	<-g.entered // the first Write is in progress and blocked

	const queued = 5
	var wg sync.WaitGroup
	errs := make(chan error, queued)
	for i := range queued {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- w.WriteMsg(Header{MsgType: 0xA3, SeqNo: uint64(2 + i)}, &testMsg{Name: "queued", N: i})
		}()
	}
	// Wait until every queued frame is in the queue: the waiters are parked.
	deadline := time.Now().Add(10 * time.Second)
	for {
		w.mu.Lock()
		n := w.waiters
		w.mu.Unlock()
		if n == queued {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d writers queued", n, queued)
		}
		time.Sleep(time.Millisecond)
	}
	close(g.gate)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for range queued {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	writes := g.all()
	if len(writes) != 2 {
		t.Fatalf("%d Writes, want 2 (one frame, then the %d queued together)", len(writes), queued)
	}
	if hs := readFrames(t, writes[0]); len(hs) != 1 || hs[0].SeqNo != 1 {
		t.Fatalf("first Write: %+v", hs)
	}
	hs := readFrames(t, writes[1])
	if len(hs) != queued {
		t.Fatalf("second Write holds %d frames, want %d", len(hs), queued)
	}
	seen := map[uint64]bool{}
	for _, h := range hs {
		seen[h.SeqNo] = true
	}
	if len(seen) != queued {
		t.Fatalf("second Write's seqs %v, want %d distinct", hs, queued)
	}
}

// QueueMsg while another goroutine writes queues the frame and returns at
// once; the writing goroutine writes it in its next batch and then reports
// every queued frame of that batch to the SetWritten function. With
// nobody writing, QueueMsg writes itself and reports nothing.
func TestBatchWriterQueueMsg(t *testing.T) {
	g := &gateWriter{gate: make(chan struct{}), entered: make(chan struct{}, 16)}
	w := NewBatchWriter(g)
	type report struct {
		n   int
		err error
	}
	reports := make(chan report, 16)
	w.SetWritten(func(n int, err error) { reports <- report{n, err} })
	first := make(chan error, 1)
	go func() { first <- w.WriteMsg(Header{MsgType: 0xA3, SeqNo: 1}, &testMsg{Name: "one"}) }()
	<-g.entered // the first Write is in progress and blocked

	const queued = 3
	for i := range queued {
		q, err := w.QueueMsg(Header{MsgType: 0xA3, SeqNo: uint64(2 + i)}, &testMsg{Name: "queued", N: i})
		if !q || err != nil {
			t.Fatalf("QueueMsg %d while a write is blocked: queued %v, %v; want queued", i, q, err)
		}
	}
	// A frame that cannot be encoded is not queued and not reported.
	if q, err := w.QueueMsg(Header{MsgType: 0xA3}, panicMsg{}); q || !errors.Is(err, ErrEncodePanic) {
		t.Fatalf("bad frame: queued %v, %v", q, err)
	}
	select {
	case r := <-reports:
		t.Fatalf("report %+v before the batch was written", r)
	default:
	}
	close(g.gate)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if r := <-reports; r.n != queued || r.err != nil {
		t.Fatalf("report %+v, want %d frames written", r, queued)
	}
	writes := g.all()
	if len(writes) != 2 || len(readFrames(t, writes[1])) != queued {
		t.Fatalf("%d Writes; want the first frame, then the %d queued together", len(writes), queued)
	}
	// Nobody writing: QueueMsg writes at once.
	if q, err := w.QueueMsg(Header{MsgType: 0xA3, SeqNo: 9}, &testMsg{}); q || err != nil {
		t.Fatalf("idle writer: queued %v, %v; want written", q, err)
	}
	if n := len(g.all()); n != 3 {
		t.Fatalf("%d Writes, want 3", n)
	}
	select {
	case r := <-reports:
		t.Fatalf("report %+v for a frame its caller wrote", r)
	default:
	}
}

// HoldMsg writes nothing: Flush writes every held frame in one Write and
// reports them; while another goroutine writes, Flush leaves them to it
// (they go in its next batch), and a WriteMsg takes them along with its
// own frame. A failed write reports the held frames with its error, and
// Flush returns it.
func TestBatchWriterHoldMsg(t *testing.T) {
	if _, err := NewBatchWriter(io.Discard).HoldMsg(Header{MsgType: 0xA3}, &testMsg{}); err == nil {
		t.Fatal("HoldMsg without SetWritten: no error")
	}
	g := &gateWriter{gate: make(chan struct{}), entered: make(chan struct{}, 16)}
	fw := &failAfter{w: g, ok: 3}
	w := NewBatchWriter(fw)
	reports := make(chan [2]any, 16)
	w.SetWritten(func(n int, err error) { reports <- [2]any{n, err} })
	report := func(want int, wantErr bool) {
		t.Helper()
		select {
		case r := <-reports:
			if r[0] != want || (r[1] != nil) != wantErr {
				t.Fatalf("report %v, want %d frames (error: %v)", r, want, wantErr)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no report")
		}
	}
	hold := func(seq uint64) int {
		t.Helper()
		n, err := w.HoldMsg(Header{MsgType: 0xA3, SeqNo: seq}, &testMsg{Name: "held"})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Held, then flushed: one Write.
	one := hold(1)
	if n := hold(2); n != 2*one {
		t.Fatalf("HoldMsg says %d bytes queued after two frames of %d", n, one)
	}
	if len(g.all()) != 0 {
		t.Fatal("HoldMsg wrote")
	}
	if _, err := w.HoldMsg(Header{MsgType: 0xA3}, panicMsg{}); !errors.Is(err, ErrEncodePanic) {
		t.Fatalf("bad frame: %v", err)
	}
	flushed := make(chan error, 1)
	go func() { flushed <- w.Flush() }()
	<-g.entered
	close(g.gate)
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	report(2, false)
	if writes := g.all(); len(writes) != 1 || len(readFrames(t, writes[0])) != 2 {
		t.Fatalf("%d Writes; want one of the 2 held frames", len(writes))
	}
	if err := w.Flush(); err != nil || len(g.all()) != 1 {
		t.Fatalf("Flush with nothing held: %v, %d Writes", err, len(g.all()))
	}

	// Held while a WriteMsg is blocked in a write: Flush returns at once,
	// and the writer takes them in its next batch.
	g.gate = make(chan struct{})
	g.mu.Lock()
	g.writes = nil // the next Write is the "first" again and blocks
	g.mu.Unlock()
	first := make(chan error, 1)
	go func() { first <- w.WriteMsg(Header{MsgType: 0xA3, SeqNo: 3}, &testMsg{}) }()
	<-g.entered
	hold(4)
	hold(5)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	close(g.gate)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	<-g.entered
	report(2, false)
	if writes := g.all(); len(writes) != 2 || len(readFrames(t, writes[1])) != 2 {
		t.Fatalf("%d Writes; want the WriteMsg's, then the 2 held frames", len(writes))
	}

	// Held, then a write that fails (the fourth): the held frames are
	// reported with its error, and Flush returns it.
	hold(6)
	if err := w.WriteMsg(Header{MsgType: 0xA3, SeqNo: 7}, &testMsg{}); err == nil {
		t.Fatal("write after the failure point succeeded")
	}
	report(1, true)
	if err := w.Flush(); err == nil {
		t.Fatal("Flush after a failed write: no error")
	}
	if _, err := w.HoldMsg(Header{MsgType: 0xA3, SeqNo: 8}, &testMsg{}); err == nil {
		t.Fatal("HoldMsg after a failed write: no error")
	}
}

// A failed batch reports its queued frames with the error, and those
// queued behind it too, which are dropped.
func TestBatchWriterQueueMsgFailure(t *testing.T) {
	g := &gateWriter{gate: make(chan struct{}), entered: make(chan struct{}, 16)}
	fw := &failAfter{w: g, ok: 1}
	w := NewBatchWriter(fw)
	var mu sync.Mutex
	var got []int
	var gotErr error
	w.SetWritten(func(n int, err error) {
		mu.Lock()
		got, gotErr = append(got, n), err
		mu.Unlock()
	})
	first := make(chan error, 1)
	go func() { first <- w.WriteMsg(Header{MsgType: 0xA3, SeqNo: 1}, &testMsg{}) }()
	<-g.entered
	for i := range 2 {
		if q, _ := w.QueueMsg(Header{MsgType: 0xA3, SeqNo: uint64(2 + i)}, &testMsg{}); !q {
			t.Fatal("not queued")
		}
	}
	close(g.gate)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0] != 2 || gotErr == nil || gotErr.Error() != "boom" {
		t.Fatalf("reports %v, %v; want 2 frames failed with boom", got, gotErr)
	}
	if q, err := w.QueueMsg(Header{MsgType: 0xA3}, &testMsg{}); q || err == nil {
		t.Fatalf("after the failure: queued %v, %v; want the sticky error", q, err)
	}
}

// SendMsg never writes a small frame itself: the flush goroutine does,
// while the sender goes on queueing; frames queued meanwhile share the next
// Write; past the backlog the sender waits; Wait returns once all is
// written. A queue reaching the backlog with nobody writing is written by
// SendMsg itself.
func TestBatchWriterSendMsg(t *testing.T) {
	g := &gateWriter{gate: make(chan struct{}), entered: make(chan struct{}, 16)}
	w := NewBatchWriter(g)
	frame := func(seq uint64) Header { return Header{MsgType: 0xA3, SeqNo: seq} }
	const backlog = 100
	if err := w.SendMsg(frame(1), &testMsg{Name: "one"}, backlog); err != nil {
		t.Fatal(err)
	}
	<-g.entered // the flush goroutine writes frame 1, blocked
	seq := uint64(1)
	for {
		w.mu.Lock()
		queued := len(w.pending)
		w.mu.Unlock()
		if queued > backlog {
			break
		}
		seq++
		if err := w.SendMsg(frame(seq), &testMsg{Name: "more"}, backlog); err != nil {
			t.Fatal(err)
		}
	}
	blocked := make(chan error, 1)
	go func() { blocked <- w.SendMsg(frame(seq+1), &testMsg{Name: "waits"}, backlog) }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		w.mu.Lock()
		n := w.waiters
		w.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("SendMsg past the backlog did not wait")
		}
	}
	close(g.gate)
	if err := <-blocked; err != nil {
		t.Fatal(err)
	}
	if err := w.Wait(); err != nil {
		t.Fatal(err)
	}
	writes := g.all()
	var got []uint64
	for _, b := range writes {
		for _, h := range readFrames(t, b) {
			got = append(got, h.SeqNo)
		}
	}
	if len(writes) < 2 || len(writes) > 3 || len(got) != int(seq+1) {
		t.Fatalf("%d Writes carrying seqs %v; want frame 1, then the %d queued in at most two", len(writes), got, seq)
	}
	for i, s := range got {
		if s != uint64(i+1) {
			t.Fatalf("seqs %v out of order", got)
		}
	}
	// Nobody writing, a frame of the backlog's size: written by SendMsg.
	before := len(g.all())
	if err := w.SendMsg(frame(99), &testMsg{Name: strings.Repeat("x", backlog)}, backlog); err != nil {
		t.Fatal(err)
	}
	if n := len(g.all()); n != before+1 {
		t.Fatalf("%d Writes after a large SendMsg returned, want %d", n, before+1)
	}
}

// A failed write of the flush goroutine is reported by Wait and by the
// next SendMsg.
func TestBatchWriterSendMsgFailure(t *testing.T) {
	w := NewBatchWriter(&errWriter{})
	if err := w.SendMsg(Header{MsgType: 0xA3}, &testMsg{}, 1<<10); err != nil {
		t.Fatalf("SendMsg: %v, want nil (the write is the flush goroutine's)", err)
	}
	if err := w.Wait(); err == nil || err.Error() != "boom" {
		t.Fatalf("Wait: %v, want boom", err)
	}
	if err := w.SendMsg(Header{MsgType: 0xA3}, &testMsg{}, 1<<10); err == nil || err.Error() != "boom" {
		t.Fatalf("SendMsg after the failure: %v, want boom", err)
	}
}

// failAfter passes the first ok Writes to w and fails every later one.
type failAfter struct {
	w  io.Writer
	ok int
}

func (f *failAfter) Write(p []byte) (int, error) {
	if f.ok == 0 {
		return 0, errors.New("boom")
	}
	f.ok--
	return f.w.Write(p)
}

// A frame that cannot be encoded leaves nothing behind: the next frame is
// the only one written.
func TestBatchWriterBadFrameWritesNothing(t *testing.T) {
	var out bytes.Buffer
	w := NewBatchWriter(&out)
	if err := w.WriteMsg(Header{MsgType: 0xA3}, panicMsg{}); !errors.Is(err, ErrEncodePanic) {
		t.Fatalf("panicking MarshalMsg: err = %v, want ErrEncodePanic", err)
	}
	if err := w.WriteMsg(Header{MsgType: 0xA5}, bigMsg(int(MaxPayloadSize)+1)); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("oversized message: err = %v, want ErrFrameTooLarge", err)
	}
	if err := w.WriteFrame(Header{MsgType: 0xA5, Length: 3}, []byte{1}); !errors.Is(err, ErrLengthMismatch) {
		t.Fatalf("length mismatch: err = %v, want ErrLengthMismatch", err)
	}
	if out.Len() != 0 {
		t.Fatalf("failed frames wrote %d bytes", out.Len())
	}
	if err := w.WriteMsg(Header{MsgType: 0xA3, SeqNo: 9}, &testMsg{Name: "ok"}); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteFrame(Header{MsgType: 0xA1, SeqNo: 10, Length: 2}, []byte{0x91, 0xc0}); err != nil {
		t.Fatal(err)
	}
	raw, _ := AppendFrame(nil, Header{MsgType: 0xA0, SeqNo: 11}, nil)
	if err := w.WriteRaw(raw); err != nil {
		t.Fatal(err)
	}
	hs := readFrames(t, out.Bytes())
	if len(hs) != 3 || hs[0].SeqNo != 9 || hs[1].SeqNo != 10 || hs[2].SeqNo != 11 {
		t.Fatalf("frames %+v, want seqs 9, 10, 11", hs)
	}
}

type panicMsg struct{}

func (panicMsg) MarshalMsg(b []byte) ([]byte, error) {
	var p *testMsg
	return p.MarshalMsg(b) // nil pointer dereference
}

type bigMsg int

func (n bigMsg) MarshalMsg(b []byte) ([]byte, error) { return append(b, make([]byte, n)...), nil }

type errWriter struct{ n int }

func (e *errWriter) Write(p []byte) (int, error) {
	e.n++
	return 0, errors.New("boom")
}

// The first write error is sticky: later frames fail at once, unwritten.
func TestBatchWriterStickyError(t *testing.T) {
	ew := &errWriter{}
	w := NewBatchWriter(ew)
	if err := w.WriteMsg(Header{MsgType: 0xA3}, &testMsg{}); err == nil || err.Error() != "boom" {
		t.Fatalf("err = %v, want boom", err)
	}
	if err := w.WriteFrame(Header{MsgType: 0xA3}, nil); err == nil || err.Error() != "boom" {
		t.Fatalf("after failure: err = %v, want boom", err)
	}
	if err := w.WriteRaw([]byte{1}); err == nil {
		t.Fatal("WriteRaw after failure succeeded")
	}
	if ew.n != 1 {
		t.Fatalf("%d Writes, want 1", ew.n)
	}
	if w.Err() == nil {
		t.Fatal("Err() = nil after a failure")
	}
}

// socketPair returns both ends of a connected Unix stream socket.
func socketPair(t *testing.T) (a, b *net.UnixConn) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan *net.UnixConn, 1)
	go func() {
		c, _ := l.AcceptUnix()
		done <- c
	}()
	a, err = net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	b = <-done
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// A peer that never reads: the first blocked write fails one timeout after
// it began, although other goroutines keep queueing frames every few
// milliseconds (they must not push its deadline forward).
func TestBatchWriterDeadlineNotExtended(t *testing.T) {
	a, _ := socketPair(t) // the other end never reads
	w := NewBatchWriter(a)
	const timeout = 300 * time.Millisecond
	w.SetTimeout(timeout)
	payload := make([]byte, 64<<10)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a steady trickle of frames from another goroutine
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(3 * time.Millisecond):
			}
			if w.WriteFrame(Header{MsgType: 0xA5, Length: 16}, make([]byte, 16)) != nil {
				return
			}
		}
	}()
	var blockedAt time.Time
	var err error
	for i := 0; ; i++ {
		start := time.Now()
		err = w.WriteFrame(Header{MsgType: 0xA5, Length: uint32(len(payload))}, payload)
		if err != nil {
			blockedAt = start
			break
		}
		if i > 10000 {
			t.Fatal("socket never filled")
		}
	}
	took := time.Since(blockedAt)
	close(stop)
	wg.Wait()
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline error", err)
	}
	// The failing write began at most at blockedAt; it cannot fail before
	// its deadline, and it must fail well before the trickle could have
	// kept it alive (generous slack for a loaded machine).
	if took > timeout+2*time.Second {
		t.Fatalf("blocked write failed after %v, want about %v", took, timeout)
	}
	if err := w.WriteFrame(Header{MsgType: 0xA5}, nil); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("after the timeout: err = %v, want the sticky deadline error", err)
	}
}

// On a socket the deadline is armed only for a write the socket cannot take
// at once: with a timeout of 1 ns, frames the socket has room for go out
// (an armed deadline would have passed before the write), a frame larger
// than the socket's buffer fails with the deadline once the socket is
// full, and a large frame that a reading peer takes arrives whole.
func TestBatchWriterDeadlineOnlyWhenBlocked(t *testing.T) {
	a, b := socketPair(t)
	w := NewBatchWriter(a)
	w.SetTimeout(time.Nanosecond)
	for i := range 10 {
		if err := w.WriteFrame(Header{MsgType: 0xA5, SeqNo: uint64(i), Length: 16}, make([]byte, 16)); err != nil {
			t.Fatalf("frame %d with room in the socket: %v", i, err)
		}
	}
	big := make([]byte, 8<<20) // more than any socket buffer: the write must wait
	if err := w.WriteFrame(Header{MsgType: 0xA5, Length: uint32(len(big))}, big); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("frame larger than the socket buffer, peer not reading: %v, want the deadline", err)
	}

	a, b = socketPair(t)
	w = NewBatchWriter(a)
	w.SetTimeout(10 * time.Second)
	for i := range big {
		big[i] = byte(i * 7)
	}
	got := make(chan []byte, 1)
	go func() {
		_, body, err := NewFrameReader(b, 0).ReadFrame()
		if err != nil {
			t.Error(err)
		}
		got <- body
	}()
	if err := w.WriteFrame(Header{MsgType: 0xA5, Length: uint32(len(big))}, big); err != nil {
		t.Fatal(err)
	}
	if body := <-got; !bytes.Equal(body, big) {
		t.Fatal("the large frame arrived changed")
	}
}

// On a socket, a write that had to wait leaves its deadline armed; a
// later write that finds it passed clears it and goes (the socket takes
// it at once: no deadline of its own), and a frame larger than the socket
// buffer, to a peer that reads, arrives whole under its own deadline.
func TestBatchWriterPassedDeadlineCleared(t *testing.T) {
	a, b := socketPair(t)
	w := NewBatchWriter(a)
	const timeout = 500 * time.Millisecond
	w.SetTimeout(timeout)
	big := make([]byte, 1<<20) // more than the socket buffer: the write waits for the reader
	for i := range big {
		big[i] = byte(i * 7)
	}
	fr := NewFrameReader(b, 0)
	got := make(chan []byte, 2)
	go func() {
		for range 2 {
			_, body, err := fr.ReadFrame()
			if err != nil {
				t.Error(err)
			}
			got <- body
		}
	}()
	if err := w.WriteFrame(Header{MsgType: 0xA5, Length: uint32(len(big))}, big); err != nil {
		t.Fatalf("large frame to a reading peer: %v", err)
	}
	if body := <-got; !bytes.Equal(body, big) {
		t.Fatal("the large frame arrived changed")
	}
	time.Sleep(2 * timeout) // the large write's deadline passes, still armed
	small := []byte("after the deadline passed")
	if err := w.WriteFrame(Header{MsgType: 0xA5, Length: uint32(len(small))}, small); err != nil {
		t.Fatalf("frame the socket has room for, after a passed deadline: %v", err)
	}
	if body := <-got; !bytes.Equal(body, small) {
		t.Fatalf("small frame arrived as %q", body)
	}
}

// Concurrent writers over a real socket: every frame arrives whole, once.
func TestBatchWriterConcurrentSocket(t *testing.T) {
	a, b := socketPair(t)
	w := NewBatchWriter(a)
	const writers, each = 8, 200
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				seq := uint64(g*each + i)
				p := bytes.Repeat([]byte{byte(seq)}, int(seq%300))
				if err := w.WriteFrame(Header{MsgType: 0xA5, SeqNo: seq, Length: uint32(len(p))}, p); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	fr := NewFrameReader(b, 0)
	seen := make(map[uint64]bool)
	for len(seen) < writers*each {
		h, p, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("after %d frames: %v", len(seen), err)
		}
		if seen[h.SeqNo] || len(p) != int(h.SeqNo%300) || (len(p) > 0 && !bytes.Equal(p, bytes.Repeat([]byte{byte(h.SeqNo)}, len(p)))) {
			t.Fatalf("frame seq %d: duplicate or corrupt (%d bytes)", h.SeqNo, len(p))
		}
		seen[h.SeqNo] = true
	}
	wg.Wait()
}
