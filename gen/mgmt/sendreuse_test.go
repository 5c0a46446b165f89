package mgmt_test

// A stream's Send keeps no reference to its payload (runtime/server's
// Stream.Send): a handler may reuse its buffer as soon as Send returns, and
// frames of every size are MarshalMsg's byte for byte.

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
)

// chunkSizes are Logs chunk lengths from none to one larger than a socket
// buffer, below and above the stream backlog (32 KiB: a frame its Send
// writes itself).
var chunkSizes = []int{0, 100, 4 << 10, 16 << 10, 32 << 10, 64 << 10, 512 << 10}

// fillChunk fills b with the bytes of chunk seq of stream id.
func fillChunk(b []byte, id string, seq int) {
	for i := range b {
		b[i] = byte(i*31 + seq*7 + len(id))
	}
}

// reusingLogs is a Logs handler sending r.Lines chunks, cycling through
// chunkSizes, from one buffer per size that it overwrites as soon as each
// Send returns, then an EOF frame.
func reusingLogs() *handler {
	return &handler{logs: func(ctx context.Context, r *mgmt.LogsRequestPayload, out mgmt.LogsSender) error {
		bufs := make([][]byte, len(chunkSizes))
		for i, n := range chunkSizes {
			bufs[i] = make([]byte, n)
		}
		for seq := range r.Lines {
			buf := bufs[seq%len(bufs)]
			fillChunk(buf, r.ID, seq)
			if err := out.Send(&mgmt.LogsStreamPayload{ID: r.ID, Stream: r.Stream, Data: buf}); err != nil {
				return err
			}
			for i := range buf {
				buf[i] = 0xEE
			}
		}
		return out.Send(&mgmt.LogsStreamPayload{ID: r.ID, EOF: true})
	}}
}

// On a cliwrap connection each frame's payload is byte for byte what
// MarshalMsg makes of the chunk, whatever its size.
func TestLogsLargeChunksWire(t *testing.T) {
	noLeaks(t)
	_, path, _ := startServer(t, reusingLogs())
	c := rawDial(t, path)
	n := 2 * len(chunkSizes)
	c.send(mgmt.MsgLogsRequest, map[string]any{"id": "web", "s": 1, "f": false, "ln": n})
	want := make([]byte, 0, 1<<20)
	for seq := range n + 1 {
		h, body, err := c.fr.ReadFrame()
		if err != nil || h.MsgType != mgmt.MsgLogsStream {
			t.Fatalf("frame %d: %s, %v", seq, h.MsgType, err)
		}
		p := &mgmt.LogsStreamPayload{ID: "web", EOF: true}
		if seq < n {
			data := make([]byte, chunkSizes[seq%len(chunkSizes)])
			fillChunk(data, "web", seq)
			p = &mgmt.LogsStreamPayload{ID: "web", Stream: 1, Data: data}
		}
		if want, _ = p.MarshalMsg(want[:0]); string(body) != string(want) {
			t.Fatalf("frame %d (%d bytes of data): payload differs from MarshalMsg's", seq, len(p.Data))
		}
	}
}

// A handler overwriting its buffer right after Send never changes a frame:
// on a legacy connection, and on a mux connection carrying two such
// streams at once (frames queued behind each other's writes, and frames
// their Send writes itself).
func TestLogsOverwriteAfterSend(t *testing.T) {
	noLeaks(t)
	_, path, _ := startServer(t, reusingLogs())
	frames := 3 * len(chunkSizes)
	follow := func(c *mgmt.Client, id string) error {
		s, err := c.Logs(testCtx(t), &mgmt.LogsRequestPayload{ID: id, Lines: frames})
		if err != nil {
			return err
		}
		var p mgmt.LogsStreamPayload
		for seq := 0; ; seq++ {
			if err := s.RecvInto(&p); err != nil {
				if err == io.EOF && seq == frames+1 {
					return nil
				}
				return fmt.Errorf("%s: after %d frames: %v", id, seq, err)
			}
			if p.EOF {
				continue
			}
			want := make([]byte, chunkSizes[seq%len(chunkSizes)])
			fillChunk(want, id, seq)
			if p.ID != id || string(p.Data) != string(want) {
				return fmt.Errorf("%s: frame %d (%d bytes) arrived changed", id, seq, len(want))
			}
		}
	}
	if err := follow(dialLegacy(t, path), "legacy"); err != nil {
		t.Fatal(err)
	}
	mux := dial(t, path)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, id := range []string{"mux-a", "mux-b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- follow(mux, id)
		}()
	}
	wg.Wait()
	for range 2 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
