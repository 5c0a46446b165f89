package server_test

// Helpers of this package's tests; those other packages share are in servertest.

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/internal/memtest"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

// Shared with the other packages' tests (servertest).
var leakCheck = servertest.LeakCheck

type logBuffer = servertest.LogBuffer

func newLogger(b *logBuffer) *slog.Logger { return b.Logger() }

// startServer starts a server of the test protocol (servertest.Start), its
// log kept in a buffer nobody reads unless opts.Logger is set.
func startServer(t testing.TB, opts server.Options, h *servertest.Handler) (*server.Server, string) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = newLogger(&logBuffer{})
	}
	return servertest.Start(t, opts, h)
}

// rawConn speaks frames by hand, as a cliwrap client does.
type rawConn struct {
	t  testing.TB
	nc net.Conn
	fr *ipc.FrameReader
}

func dialRaw(t testing.TB, path string) *rawConn {
	t.Helper()
	nc, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc, fr: ipc.NewFrameReader(nc, 0)}
}

func (r *rawConn) write(b []byte) {
	r.t.Helper()
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

func (r *rawConn) send(t ipc.MsgType, seq uint64, payload []byte) {
	r.t.Helper()
	frame, err := ipc.AppendFrame(nil, ipc.Header{MsgType: t, SeqNo: seq}, payload)
	if err != nil {
		r.t.Fatal(err)
	}
	r.write(frame)
}

func (r *rawConn) sendMsg(t ipc.MsgType, seq uint64, m msgp.Marshaler) {
	r.t.Helper()
	frame, err := ipc.AppendMsgFrame(nil, ipc.Header{MsgType: t, SeqNo: seq}, m)
	if err != nil {
		r.t.Fatal(err)
	}
	r.write(frame)
}

// next reads one frame within 5s.
func (r *rawConn) next() (ipc.Header, []byte) {
	r.t.Helper()
	r.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	h, body, err := r.fr.ReadFrame()
	if err != nil {
		r.t.Fatalf("read frame: %v", err)
	}
	return h, body
}

// echo reads an EchoResponse frame answering seq.
func (r *rawConn) echo(seq uint64) *servertest.EchoResponse {
	r.t.Helper()
	h, body := r.next()
	if h.MsgType != servertest.MsgEchoResponse || h.SeqNo != seq {
		r.t.Fatalf("got frame %s seq %d (%q), want %s seq %d", h.MsgType, h.SeqNo, body, servertest.MsgEchoResponse, seq)
	}
	var resp servertest.EchoResponse
	if err := ipc.DecodePayload(body, &resp); err != nil {
		r.t.Fatal(err)
	}
	return &resp
}

// status reads a Status (error response) frame answering seq.
func (r *rawConn) status(seq uint64) string {
	r.t.Helper()
	h, body := r.next()
	if h.MsgType != servertest.MsgStatus || h.SeqNo != seq {
		r.t.Fatalf("got frame %s seq %d, want %s seq %d", h.MsgType, h.SeqNo, servertest.MsgStatus, seq)
	}
	var st servertest.Status
	if err := ipc.DecodePayload(body, &st); err != nil {
		r.t.Fatal(err)
	}
	return st.Err
}

// expectClosed checks that the server closes the connection within d
// without sending anything.
func (r *rawConn) expectClosed(d time.Duration) {
	r.t.Helper()
	r.nc.SetReadDeadline(time.Now().Add(d))
	h, _, err := r.fr.ReadFrame()
	switch {
	case err == nil:
		r.t.Fatalf("got frame %s seq %d, want the connection closed", h.MsgType, h.SeqNo)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			r.t.Fatalf("connection still open after %v", d)
		}
		// ECONNRESET and the like also mean closed.
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	waitWithin(t, 5*time.Second, what, cond)
}

// waitWithin polls cond for up to d.
func waitWithin(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// liveHeap is the heap in use after two collections: what the process
// really holds.
var liveHeap = memtest.LiveHeap

// peakGoroutines samples runtime.NumGoroutine every millisecond until stop
// is closed and returns the highest count seen.
func peakGoroutines(stop <-chan struct{}) <-chan int {
	out := make(chan int, 1)
	go func() {
		peak := 0
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			peak = max(peak, runtime.NumGoroutine())
			select {
			case <-stop:
				out <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
