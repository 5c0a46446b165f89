package fakeserver_test

import (
	"errors"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mgmtgen/mgmtgen/internal/fakeserver"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// Frames hands each frame to answer; stop ends a connection blocked in a
// read, and returns once every connection's goroutine has: nothing leaks.
func TestStartFramesStop(t *testing.T) {
	defer goleak.VerifyNone(t)
	path := filepath.Join(t.TempDir(), "f.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan ipc.Header, 4)
	stop := fakeserver.Start(t, ln, fakeserver.Frames(func(nc net.Conn, h ipc.Header, body []byte) bool {
		got <- h
		frame, _ := ipc.AppendFrame(nil, ipc.Header{MsgType: h.MsgType + 1, SeqNo: h.SeqNo}, body)
		_, err := nc.Write(frame)
		return err == nil && h.SeqNo != 9 // seq 9: hang up
	}))
	nc, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	fr := ipc.NewFrameReader(nc, 0)
	for _, seq := range []uint64{1, 9} {
		frame, _ := ipc.AppendFrame(nil, ipc.Header{MsgType: 0xA0, SeqNo: seq}, []byte{0xC0})
		nc.Write(frame)
		if h, body, err := fr.ReadFrame(); err != nil || h.MsgType != 0xA1 || h.SeqNo != seq || len(body) != 1 {
			t.Fatalf("answer to seq %d: %+v % x %v", seq, h, body, err)
		}
		if h := <-got; h.SeqNo != seq {
			t.Fatalf("answer saw seq %d, want %d", h.SeqNo, seq)
		}
	}
	if _, _, err := fr.ReadFrame(); !errors.Is(err, io.EOF) {
		t.Fatalf("after answer returned false: %v, want the connection closed", err)
	}
	idle, err := net.Dial("unix", path) // accepted or not, stop ends it
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	stop()
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	var ne net.Error
	if _, err := idle.Read(make([]byte, 1)); err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("a connection open at stop: %v, want it closed (EOF or reset)", err)
	}
}
