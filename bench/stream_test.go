package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

var chunkSizes = []struct {
	name string
	n    int
}{{"64B", 64}, {"4KiB", 4 << 10}, {"64KiB", 64 << 10}}

// followMgmt streams n chunks of data through the generated server: a
// producer feeds the procd-like handler's channel, the handler sends one
// frame per chunk, the typed client's RecvInto decodes each into one reused
// value (as a log follower that writes chunks out would).
func followMgmt(tb testing.TB, n int, data []byte, timer func()) {
	followMgmtFed(tb, n, data, timer, false, mgmt.ClientOptions{})
}

// followOwnConn is followMgmt with a client that does not negotiate
// (ClientOptions.Legacy), so the stream runs on a connection of its own,
// as every stream did before streams were multiplexed: no StreamCredit
// flow control, no reading role shared with calls. Against impl=mgmtgen
// it is what multiplexing the stream on the client's connection costs.
func followOwnConn(tb testing.TB, n int, data []byte, timer func()) {
	followMgmtFed(tb, n, data, timer, false, mgmt.ClientOptions{Legacy: true})
}

// followNoProducer is followMgmt with the handler's channel filled with
// all n chunks before the timer starts, so no producer goroutine hands
// each chunk over while the stream runs: the floor has no such hand-off,
// and this row shows what it costs impl=mgmtgen.
func followNoProducer(tb testing.TB, n int, data []byte, timer func()) {
	followMgmtFed(tb, n, data, timer, true, mgmt.ClientOptions{})
}

// followMgmtFed is followMgmt, with the chunks in the handler's channel
// before the stream starts (prefilled) or fed by a producer goroutine, on
// a client dialled with opts.
func followMgmtFed(tb testing.TB, n int, data []byte, timer func(), prefilled bool, opts mgmt.ClientOptions) {
	h := newHandler()
	h.chunks = make(chan []byte, 64)
	if prefilled {
		h.chunks = make(chan []byte, n)
		for range n {
			h.chunks <- data
		}
	}
	s := openFollowMgmt(tb, h, opts)
	defer s.Close()
	timer()
	if !prefilled {
		go func() {
			for range n {
				h.chunks <- data
			}
		}()
	}
	var p mgmt.LogsStreamPayload // RecvInto reuses its Data buffer
	for range n {
		if err := s.RecvInto(&p); err != nil {
			tb.Fatal(err)
		}
		if len(p.Data) != len(data) {
			tb.Fatalf("got %d bytes, want %d", len(p.Data), len(data))
		}
	}
}

// openFollowMgmt starts the generated server with the procd-like handler
// h, opens a Logs follow through a client dialled with opts and receives
// its snapshot.
func openFollowMgmt(tb testing.TB, h *handler, opts mgmt.ClientOptions) *mgmt.LogsClientStream {
	c := dialMgmtOpts(tb, startMgmt(tb, h), opts)
	s, err := c.Logs(context.Background(), &mgmt.LogsRequestPayload{ID: "proc-0007", Follow: true})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := s.Recv(); err != nil { // the snapshot
		s.Close()
		tb.Fatal(err)
	}
	return s
}

// openFollowServerOnly is openFollowMgmt with the floor's client: the
// request written as a pre-encoded frame, the snapshot read raw.
func openFollowServerOnly(tb testing.TB) (*handler, *rawClient) {
	h := newHandler()
	h.chunks = make(chan []byte, 64)
	c := dialRaw(tb, startMgmt(tb, h))
	req := frameOf(mgmt.MsgLogsRequest, 1, &mgmt.LogsRequestPayload{ID: "proc-0007", Follow: true})
	if _, err := c.nc.Write(req); err != nil {
		tb.Fatal(err)
	}
	if _, _, err := c.fr.ReadFrameInto(c.buf); err != nil { // the snapshot
		tb.Fatal(err)
	}
	return h, c
}

// followRaw is the floor: a goroutine writes the same pre-encoded frames,
// one write each, and the client reads them through a buffered reader into
// a reused buffer, nothing decoded.
func followRaw(tb testing.TB, n int, data []byte, timer func()) {
	frame, nc, sc := rawFollowConns(tb, data)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		defer sc.Close()
		for range n {
			if _, err := sc.Write(frame); err != nil {
				return
			}
		}
	})
	defer nc.Close()
	timer()
	if err := readRawFollow(ipc.NewFrameReader(nc, 0), make([]byte, 0, len(frame)), len(frame), n); err != nil {
		tb.Fatal(err)
	}
}

// rawFollowConns returns the floor's pre-encoded Logs frame of data and
// both ends of a fresh Unix socket connection: the client's, the server's.
func rawFollowConns(tb testing.TB, data []byte) (frame []byte, nc, sc net.Conn) {
	path := sockPath(tb)
	l, err := net.Listen("unix", path)
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	nc, err = net.Dial("unix", path)
	if err != nil {
		tb.Fatal(err)
	}
	sc, err = l.Accept()
	if err != nil {
		nc.Close()
		tb.Fatal(err)
	}
	return frameOf(mgmt.MsgLogsStream, 0, &mgmt.LogsStreamPayload{ID: "proc-0007", Data: data}), nc, sc
}

// readRawFollow reads n Logs frames of size frameLen from fr into buf,
// nothing decoded, as the floor's client does.
func readRawFollow(fr *ipc.FrameReader, buf []byte, frameLen, n int) error {
	for range n {
		h, body, err := fr.ReadFrameInto(buf)
		if err != nil {
			return err
		}
		if h.MsgType != mgmt.MsgLogsStream || len(body) != frameLen-ipc.HeaderSize {
			return fmt.Errorf("bad frame %v", h)
		}
	}
	return nil
}

// followServerOnly is followMgmt's server with the floor's client: raw
// frame reads into a reused buffer, nothing decoded. It isolates the
// generated server's share of the stream's cost.
func followServerOnly(tb testing.TB, n int, data []byte, timer func()) {
	h, c := openFollowServerOnly(tb)
	timer()
	go func() {
		for range n {
			h.chunks <- data
		}
	}()
	buf := make([]byte, 0, len(data)+64)
	for range n {
		hd, _, err := c.fr.ReadFrameInto(buf)
		if err != nil {
			tb.Fatal(err)
		}
		if hd.MsgType != mgmt.MsgLogsStream {
			tb.Fatalf("bad frame %v", hd)
		}
	}
}

func TestFollow(t *testing.T) {
	data := LogsChunk(4 << 10).Data
	followMgmt(t, 100, data, func() {})
	followRaw(t, 100, data, func() {})
	followServerOnly(t, 100, data, func() {})
	followNoProducer(t, 100, data, func() {})
	followOwnConn(t, 100, data, func() {})
}

// BenchmarkLogsFollow: one op is one chunk of followed output delivered to
// the client; MB/s counts the chunk's bytes, frames/s the frames.
func BenchmarkLogsFollow(b *testing.B) {
	impls := []struct {
		name string
		run  func(testing.TB, int, []byte, func())
	}{{"raw", followRaw}, {"mgmtgen", followMgmt}, {"server-only", followServerOnly}, {"no-producer", followNoProducer}, {"own-conn", followOwnConn}}
	for _, cs := range chunkSizes {
		data := LogsChunk(cs.n).Data
		for _, im := range impls {
			b.Run("chunk="+cs.name+"/impl="+im.name, func(b *testing.B) {
				b.SetBytes(int64(cs.n))
				b.ReportAllocs()
				var start time.Time
				im.run(b, b.N, data, func() { b.ResetTimer(); start = time.Now() })
				el := time.Since(start)
				b.StopTimer()
				b.ReportMetric(float64(b.N)/el.Seconds(), "frames/s")
			})
		}
	}
}

// snapshotMgmt takes one Logs snapshot (one frame with EOF, as procd
// sends) through the generated client c, and checks it.
func snapshotMgmt(tb testing.TB, c *mgmt.Client, req *mgmt.LogsRequestPayload, p *mgmt.LogsStreamPayload, want int) {
	s, err := c.Logs(bg, req)
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.RecvInto(p); err != nil || !p.EOF || len(p.Data) != want {
		tb.Fatalf("snapshot: %d bytes, EOF %v, %v", len(p.Data), p.EOF, err)
	}
	if err := s.RecvInto(p); err != io.EOF {
		tb.Fatalf("after the snapshot: %v, want io.EOF", err)
	}
}

func TestLogsSnapshot(t *testing.T) {
	h := newHandler()
	h.snapshot = LogsChunk(4 << 10).Data
	path := startMgmt(t, h)
	var p mgmt.LogsStreamPayload
	for _, legacy := range []bool{true, false} {
		c := dialMgmtOpts(t, path, mgmt.ClientOptions{Legacy: legacy})
		for range 3 {
			snapshotMgmt(t, c, &mgmt.LogsRequestPayload{ID: "proc-0007"}, &p, len(h.snapshot))
		}
	}
}

// BenchmarkLogsSnapshot: one op is one Logs snapshot of 4 KiB (the stream
// opened, its one frame received, its end) through the generated client.
// impl=dial is a client that does not negotiate (Legacy), so each stream
// dials a connection of its own, as every stream did before streams were
// multiplexed (a negotiating client without mux also says hello on each);
// impl=mux is the default client, whose streams share its connection.
func BenchmarkLogsSnapshot(b *testing.B) {
	h := newHandler()
	h.snapshot = LogsChunk(4 << 10).Data
	path := startMgmt(b, h)
	req := &mgmt.LogsRequestPayload{ID: "proc-0007"}
	for _, impl := range []struct {
		name   string
		legacy bool
	}{{"dial", true}, {"mux", false}} {
		b.Run("impl="+impl.name, func(b *testing.B) {
			c := dialMgmtOpts(b, path, mgmt.ClientOptions{Legacy: impl.legacy})
			var p mgmt.LogsStreamPayload
			snapshotMgmt(b, c, req, &p, len(h.snapshot))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				snapshotMgmt(b, c, req, &p, len(h.snapshot))
			}
		})
	}
}
