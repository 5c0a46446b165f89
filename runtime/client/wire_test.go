package client_test

import (
	"bytes"
	"io"
	"net"
	"path/filepath"
	"testing"

	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
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
