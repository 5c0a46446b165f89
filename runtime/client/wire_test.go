package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

// TestWireBytes checks the exact bytes the client sends, as a cliwrap
// client does: requests numbered 1, 2, 3, a payload-less request with
// length 0, and raw msgpack payloads passed through untouched.
func TestWireBytes(t *testing.T) {
	leakCheck(t)
	path := filepath.Join(t.TempDir(), "wire.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan []byte, 1)
	go func() {
		nc, err := l.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer nc.Close()
		var all []byte
		fr := ipc.NewFrameReader(nc, 0)
		for range 3 {
			h, body, err := fr.ReadFrame()
			if err != nil {
				break
			}
			frame, _ := ipc.AppendFrame(nil, h, body)
			all = append(all, frame...)
			resp, _ := ipc.AppendFrame(nil, ipc.Header{MsgType: 0xA1, SeqNo: h.SeqNo}, []byte{0x80})
			nc.Write(resp)
		}
		got <- all
	}()
	c := dial(t, path, client.Options{})
	for _, p := range []any{nil, []byte{0x81, 0xA2, 'i', 'd', 0xA1, 'x'}, []byte(nil)} {
		h, body, err := c.Call(0xA0, p)
		if err != nil || h.MsgType != 0xA1 || !bytes.Equal(body, []byte{0x80}) {
			t.Fatalf("Call: %+v % x %v", h, body, err)
		}
	}
	want := []byte{
		0xC1, 0xD9, 0x01, 0xA0, 0x00, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0,
		0xC1, 0xD9, 0x01, 0xA0, 0x00, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 6, 0x81, 0xA2, 'i', 'd', 0xA1, 'x',
		0xC1, 0xD9, 0x01, 0xA0, 0x00, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0,
	}
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("wire bytes\n got % x\nwant % x", b, want)
	}
	c.Close()
	if _, _, err := c.ReadFrame(); err == nil || err == io.EOF {
		t.Fatalf("ReadFrame without Stream: %v", err)
	}
}

// TestDeadlineAmongPendingCalls: whichever call reads for the others, one
// whose deadline passes returns promptly and the others still get their
// answers. The handler sleeps at least 800 ms, ten times the longest
// deadline, so an answer can never beat a deadline however loaded the
// machine; a deadline is honoured within 400 ms of scheduling slack, well
// before the answer could come.
func TestDeadlineAmongPendingCalls(t *testing.T) {
	leakCheck(t)
	_, path := start(t, nil)
	c := dial(t, path, client.Options{})
	for round := range 4 {
		errc := make(chan error, 3)
		for i := range 3 {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(30+50*i)*time.Millisecond)
				defer cancel()
				if i == 2 {
					ctx = context.Background()
				}
				start := time.Now()
				resp, err := echo(ctx, c, &servertest.EchoRequest{ID: "x", N: i, Sleep: time.Duration(1500-700*(round%2)) * time.Millisecond})
				switch {
				case i == 2 && (err != nil || resp.N != 2):
					errc <- fmt.Errorf("call without deadline: %+v, %v", resp, err)
				case i < 2 && !errors.Is(err, context.DeadlineExceeded):
					errc <- fmt.Errorf("call %d: %v, want DeadlineExceeded", i, err)
				case i < 2 && time.Since(start) > time.Duration(30+50*i)*time.Millisecond+400*time.Millisecond:
					errc <- fmt.Errorf("call %d returned after %v", i, time.Since(start))
				default:
					errc <- nil
				}
			}()
		}
		for range 3 {
			if err := <-errc; err != nil {
				t.Error(err)
			}
		}
	}
	if _, err := echo(context.Background(), c, &servertest.EchoRequest{}); err != nil {
		t.Fatal(err)
	}
}
