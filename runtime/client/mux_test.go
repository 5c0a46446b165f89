package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
	"github.com/mgmtgen/mgmtgen/runtime/status"
)

// Multiplexed streams (feature "mux", mux.go) against a scripted server:
// the queue's bounds to the byte, the Cancel, frames routed by seq, and
// the reading role moving between a Recv and calls.

// muxPeer accepts the client's connection and answers its hello with a
// HelloAck agreeing to mux.
func muxPeer(t *testing.T, opts client.Options) (*peer, *client.Conn) {
	t.Helper()
	p, path := listenPeer(t)
	opts.Negotiate = true
	c := dial(t, path, opts)
	p.accept()
	ext := make(chan bool, 1)
	go func() { ext <- c.HasFeature(context.Background(), "mux") }()
	if h := p.request(); h.MsgType != ipc.MsgHello || h.SeqNo != 0 {
		t.Fatalf("first frame %s seq %d, want the hello", h.MsgType, h.SeqNo)
	}
	p.write(frame(ipc.MsgHelloAck, 0, &ipc.HelloAck{Version: ipc.ExtVersion, Features: []string{"errors", "status", "ready", "cancel", "mux"}, Runtime: "scripted"}))
	if !<-ext {
		t.Fatal("mux not agreed")
	}
	return p, c
}

// credit reads the client's next frame, which must be a StreamCredit for
// seq, and returns it.
func (p *peer) credit(seq uint64) ipc.StreamCredit {
	p.t.Helper()
	p.nc.SetReadDeadline(time.Now().Add(waitFor))
	h, body, err := p.fr.ReadFrame()
	if err != nil {
		p.t.Fatalf("peer: read credit: %v", err)
	}
	var sc ipc.StreamCredit
	if h.MsgType != ipc.MsgStreamCredit || h.SeqNo != seq || ipc.DecodePayload(body, &sc) != nil {
		p.t.Fatalf("client sent %s seq %d % x, want a StreamCredit for seq %d", h.MsgType, h.SeqNo, body, seq)
	}
	return sc
}

// openTail opens a Tail stream on c; the peer reads its request, which
// must have seq and be followed by the stream's window win, and answers
// Ready.
func openTail(t *testing.T, p *peer, c *client.Conn, seq uint64, win ipc.StreamCredit) *client.Stream {
	t.Helper()
	type opened struct {
		s   *client.Stream
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		s, err := c.OpenStream(context.Background(), tailInfo, &servertest.TailRequest{Follow: true})
		ch <- opened{s, err}
	}()
	if h := p.request(); h.MsgType != servertest.MsgTail || h.SeqNo != seq {
		t.Fatalf("stream request %s seq %d, want Tail seq %d", h.MsgType, h.SeqNo, seq)
	}
	if sc := p.credit(seq); sc != win {
		t.Fatalf("stream's first credit %+v, want %+v", sc, win)
	}
	p.write(frame(ipc.MsgReady, seq, nil))
	o := <-ch
	if o.err != nil {
		t.Fatalf("OpenStream: %v", o.err)
	}
	t.Cleanup(func() { o.s.Close() })
	return o.s
}

// tailFrame is a TailFrame of the stream seq whose payload is 11 bytes.
func tailFrame(seq uint64, i int) []byte {
	b := frame(servertest.MsgTailFrame, seq, &servertest.TailFrame{I: 1000 + i})
	if n := len(b) - ipc.HeaderSize; n != 11 {
		panic(fmt.Sprintf("tail frame payload %d bytes", n))
	}
	return b
}

// A stream's queue holds StreamQueueBytes: a frame that comes when that
// many bytes are queued (the window the client granted is used up, so the
// server ignored it) ends that stream with ResourceExhausted naming what
// was queued, the client sends Cancel for it, its later frames are
// discarded, and the connection's calls and other streams go on.
func TestMuxQueueBound(t *testing.T) {
	leakCheck(t)
	p, c := muxPeer(t, client.Options{StreamQueueBytes: 30})
	win := ipc.StreamCredit{Frames: client.DefaultStreamQueueFrames, Bytes: 30}
	slow := openTail(t, p, c, 1, win)
	other := openTail(t, p, c, 2, win)
	// Nobody receives: the client's drain reads. Frames of 11 bytes: three
	// are taken (the window had bytes left before each), the fourth not.
	p.write(append(append(append(append(tailFrame(1, 0), tailFrame(1, 1)...), tailFrame(2, 0)...), tailFrame(1, 2)...), tailFrame(1, 3)...))
	if h := p.request(); h.MsgType != ipc.MsgCancel || h.SeqNo != 1 {
		t.Fatalf("client sent %s seq %d, want Cancel seq 1", h.MsgType, h.SeqNo)
	}
	p.write(append(tailFrame(1, 4), frame(ipc.MsgStreamEnd, 1, &ipc.Status{Code: uint32(status.Canceled)})...))
	var f servertest.TailFrame
	err := slow.RecvInto(&f)
	if status.CodeOf(err) != status.ResourceExhausted || err.Error() != "client: Tail stream: stream reader fell behind: 3 frames / 33 bytes queued" {
		t.Fatalf("slow stream's Recv = %v", err)
	}
	if err := other.RecvInto(&f); err != nil || f.I != 1000 {
		t.Fatalf("other stream's frame %+v, %v", f, err)
	}
	call := goEcho(context.Background(), c, "beside")
	if h := p.request(); h.MsgType != servertest.MsgEcho || h.SeqNo != 3 {
		t.Fatalf("call %s seq %d", h.MsgType, h.SeqNo)
	}
	p.write(append(tailFrame(2, 1), answer(3, "beside")...))
	if r := wait(t, call, "the call beside the streams"); r.err != nil || r.resp.ID != "beside" {
		t.Fatalf("call: %+v, %v", r.resp, r.err)
	}
	if err := other.RecvInto(&f); err != nil || f.I != 1001 {
		t.Fatalf("other stream's second frame %+v, %v", f, err)
	}
	// 11 bytes consumed, under half of the 30: nothing granted (the
	// peer's next frame was the call); 22, over half: granted back.
	if sc := p.credit(2); sc != (ipc.StreamCredit{Frames: 2, Bytes: 22}) {
		t.Fatalf("credit after two frames: %+v", sc)
	}
	p.write(frame(ipc.MsgStreamEnd, 2, &ipc.Status{}))
	if err := other.RecvInto(&f); err != io.EOF {
		t.Fatalf("other stream's end: %v, want io.EOF", err)
	}
}

// A Recv that holds the reading role hands the answers of calls to them;
// a Recv that waits while a call reads gets its frames, and the role when
// the call is answered.
func TestMuxRecvAndCallsShareTheReader(t *testing.T) {
	leakCheck(t)
	p, c := muxPeer(t, client.Options{})
	s := openTail(t, p, c, 1, ipc.StreamCredit{Frames: client.DefaultStreamQueueFrames, Bytes: client.DefaultStreamQueueBytes})
	got := make(chan error, 1)
	recvOne := func(want int) {
		go func() {
			var f servertest.TailFrame
			err := s.RecvInto(&f)
			if err == nil && f.I != want {
				err = fmt.Errorf("frame %d, want %d", f.I, want)
			}
			got <- err
		}()
	}
	recvOne(1000) // blocks reading: nothing sent yet
	for i := range 3 {
		call := goEcho(context.Background(), c, "c")
		if h := p.request(); h.MsgType != servertest.MsgEcho || h.SeqNo != uint64(2+i) {
			t.Fatalf("call %s seq %d", h.MsgType, h.SeqNo)
		}
		p.write(answer(uint64(2+i), "c"))
		if r := wait(t, call, "a call while Recv waits"); r.err != nil {
			t.Fatal(r.err)
		}
	}
	p.write(tailFrame(1, 0))
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	// A call reads first (its answer is late), then Recv waits behind it.
	call := goEcho(context.Background(), c, "late")
	p.request()
	recvOne(1001)
	p.write(append(tailFrame(1, 1), answer(5, "late")...))
	if r := wait(t, call, "the late call"); r.err != nil {
		t.Fatal(r.err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	recvOne(1002)
	p.write(tailFrame(1, 2))
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	// The stream's end, then Close: no Cancel goes out for an ended stream.
	p.write(frame(ipc.MsgStreamEnd, 1, &ipc.Status{Code: uint32(status.NotFound), Message: "gone"}))
	var f servertest.TailFrame
	var re *client.RemoteError
	if err := s.RecvInto(&f); !errors.As(err, &re) || re.Code != status.NotFound || re.Text != "gone" {
		t.Fatalf("end: %v", err)
	}
	s.Close()
	call = goEcho(context.Background(), c, "after")
	if h := p.request(); h.MsgType != servertest.MsgEcho || h.SeqNo != 6 {
		t.Fatalf("after the stream's end the client sent %s seq %d, want Echo seq 6", h.MsgType, h.SeqNo)
	}
	p.write(answer(6, "after"))
	if r := wait(t, call, "the call after"); r.err != nil {
		t.Fatal(r.err)
	}
}

// As its reader takes frames, a stream grants their window back to the
// server, half of the window at a time (here 2 of 4 frames), frames
// queued or read straight alike; Ready and the stream's end take none.
func TestMuxGrantsCredit(t *testing.T) {
	leakCheck(t)
	p, c := muxPeer(t, client.Options{StreamQueueFrames: 4})
	s := openTail(t, p, c, 1, ipc.StreamCredit{Frames: 4, Bytes: client.DefaultStreamQueueBytes})
	var f servertest.TailFrame
	for round := range 3 {
		p.write(append(tailFrame(1, 2*round), tailFrame(1, 2*round+1)...))
		for i := range 2 {
			if err := s.RecvInto(&f); err != nil || f.I != 1000+2*round+i {
				t.Fatalf("frame %d: %+v, %v", 2*round+i, f, err)
			}
		}
		if sc := p.credit(1); sc != (ipc.StreamCredit{Frames: 2, Bytes: 22}) {
			t.Fatalf("round %d: credit %+v, want 2 frames / 22 bytes", round, sc)
		}
	}
	p.write(tailFrame(1, 6))
	if err := s.RecvInto(&f); err != nil || f.I != 1006 {
		t.Fatalf("frame 6: %+v, %v", f, err)
	}
	p.write(frame(ipc.MsgStreamEnd, 1, &ipc.Status{}))
	if err := s.RecvInto(&f); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	// One frame consumed since the last grant, then the end: nothing more
	// is sent for the stream; the next frame is the next call's.
	call := goEcho(context.Background(), c, "after")
	if h := p.request(); h.MsgType != servertest.MsgEcho || h.SeqNo != 2 {
		t.Fatalf("client sent %s seq %d, want Echo seq 2", h.MsgType, h.SeqNo)
	}
	p.write(answer(2, "after"))
	if r := wait(t, call, "the call after"); r.err != nil {
		t.Fatal(r.err)
	}
}

// A stream's Recv that keeps up reads its frames itself, into its own
// buffer: the role is not handed to the drain goroutine each time Recv
// returns (the drain goroutine would queue every frame in memory of its
// own, an allocation per frame, and a hand-off), so receiving a burst of
// frames allocates (nearly) nothing per frame.
func TestMuxRecvThatKeepsUpReadsItself(t *testing.T) {
	leakCheck(t)
	p, c := muxPeer(t, client.Options{})
	// A Recv that a loaded machine holds up for over drainDelay loses the
	// role to the drain goroutine, by design; what is tested here is that
	// the role is not handed over after every Recv.
	client.SetDrainDelay(c, time.Minute)
	s := openTail(t, p, c, 1, ipc.StreamCredit{Frames: client.DefaultStreamQueueFrames, Bytes: client.DefaultStreamQueueBytes})
	const n = 200 // within the window: the queue's bound never comes into it
	var burst []byte
	for i := range n + 1 {
		burst = append(burst, tailFrame(1, i)...)
	}
	var f servertest.TailFrame
	recv := func(want int) {
		if err := s.RecvInto(&f); err != nil || f.I != 1000+want {
			t.Fatalf("frame %d, %v; want frame %d", f.I, err, 1000+want)
		}
	}
	p.write(burst) // 4 KiB: the socket takes it at once
	recv(0)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 1; i <= n; i++ {
		recv(i)
	}
	runtime.ReadMemStats(&after)
	if per := float64(after.Mallocs-before.Mallocs) / n; per > 0.5 {
		t.Errorf("%.2f allocations per frame received, want (nearly) none", per)
	}
}

// A Recv that was away longer than drainDelay finds the drain goroutine
// reading its frames into the queue; once it has taken them and waits for
// more, it gets the reading role back (the drain goroutine, woken, hands
// it over and ends) and reads its later frames itself again, allocating
// (nearly) nothing per frame, instead of having the drain goroutine queue
// every frame in fresh memory for the rest of the stream.
func TestMuxRecvTakesTheRoleBackFromDrain(t *testing.T) {
	leakCheck(t)
	p, c := muxPeer(t, client.Options{})
	s := openTail(t, p, c, 1, ipc.StreamCredit{Frames: client.DefaultStreamQueueFrames, Bytes: client.DefaultStreamQueueBytes})
	until := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(waitFor); !cond(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("after %v: %s", waitFor, what)
			}
		}
	}
	p.write(tailFrame(1, 0)) // nobody receives: the drain goroutine reads it, and on
	until("the drain goroutine never took the reading role", func() bool { return client.Draining(c) })
	var f servertest.TailFrame
	if err := s.RecvInto(&f); err != nil || f.I != 1000 {
		t.Fatalf("frame 0, from the queue: %+v, %v", f, err)
	}
	// From here on the test's Recv must not lose the role, however slow.
	client.SetDrainDelay(c, time.Minute)
	const n = 200 // within the window: the queue's bound never comes into it
	done := make(chan error, 1)
	go func() {
		var f servertest.TailFrame
		for i := 1; i <= n; i++ {
			if err := s.RecvInto(&f); err != nil || f.I != 1000+i {
				done <- fmt.Errorf("frame %d: %+v, %v", i, f, err)
				return
			}
		}
		done <- nil
	}()
	// The Recv waits, with nothing queued: the drain goroutine, blocked
	// reading, hands it the role and ends.
	until("the drain goroutine still reads while a Recv waits", func() bool { return !client.Draining(c) })
	var burst []byte
	for i := 1; i <= n; i++ {
		burst = append(burst, tailFrame(1, i)...)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	p.write(burst) // 4 KiB: the socket takes it at once
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitFor):
		t.Fatal("Recv did not get the burst")
	}
	runtime.ReadMemStats(&after)
	if per := float64(after.Mallocs-before.Mallocs) / n; per > 0.5 {
		t.Errorf("%.2f allocations per frame received, want (nearly) none", per)
	}
}

// Close wakes the stream's own Recv blocked reading the socket (it holds
// the reading role, with nothing coming): Recv returns at once.
func TestMuxCloseWakesLeadingRecv(t *testing.T) {
	leakCheck(t)
	p, c := muxPeer(t, client.Options{})
	s := openTail(t, p, c, 1, ipc.StreamCredit{Frames: client.DefaultStreamQueueFrames, Bytes: client.DefaultStreamQueueBytes})
	got := make(chan error, 1)
	go func() {
		var f servertest.TailFrame
		got <- s.RecvInto(&f)
	}()
	time.Sleep(50 * time.Millisecond) // let Recv take the role and block reading
	s.Close()
	select {
	case err := <-got:
		if err == nil {
			t.Fatal("Recv after Close returned a frame")
		}
	case <-time.After(waitFor):
		t.Fatal("Recv still blocked after Close")
	}
}

// The drain goroutine takes the reading role drainDelay after the last
// time a stream's Recv let it go, not drainDelay after the first: the
// drain timer, armed once while a stream is followed, re-arms itself for
// another drainDelay when the role was let go again meanwhile. A Recv that comes
// back within drainDelay every time, across several drainDelays, always
// finds the role free; once it stops, the drain goroutine takes over, no
// sooner than drainDelay after the last Recv began. A loaded machine may
// hold the test up past drainDelay between two Recvs: then the drain
// goroutine taking over is right, and what is checked is only that it
// never does so sooner.
func TestMuxDrainTakesOverAfterTheLastDrop(t *testing.T) {
	leakCheck(t)
	p, c := muxPeer(t, client.Options{})
	const delay = 300 * time.Millisecond
	client.SetDrainDelay(c, delay)
	s := openTail(t, p, c, 1, ipc.StreamCredit{Frames: client.DefaultStreamQueueFrames, Bytes: client.DefaultStreamQueueBytes})
	var f servertest.TailFrame
	var began time.Time // when the last Recv began: the role was let go after it
	const n = 24        // 24 x 50 ms: four drainDelays
	for i := range n {
		now := time.Now()
		if client.Draining(c) && i > 0 && now.Sub(began) < delay {
			t.Fatalf("Recv %d: the drain goroutine took the role within %v of the Recv before it began, want >= %v",
				i, now.Sub(began), delay)
		}
		p.write(tailFrame(1, i))
		began = time.Now()
		if err := s.RecvInto(&f); err != nil || f.I != 1000+i {
			t.Fatalf("frame %d: %+v, %v", i, f, err)
		}
		time.Sleep(delay / 6)
	}
	for deadline := began.Add(waitFor); !client.Draining(c); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the drain goroutine never took the reading role after the last Recv (%v)", waitFor)
		}
	}
	if since := time.Since(began); since < delay {
		t.Fatalf("the drain goroutine took the role %v after the last Recv began, want >= %v", since, delay)
	}
}
