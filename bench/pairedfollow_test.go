package bench

import (
	"fmt"
	"sync"
	"testing"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// followBlock is how many frames one block of BenchmarkPairedFollow reads
// from one impl before it turns to the next: about 1 ms of the floor at
// each chunk size on the Intel host of session 8.
var followBlock = map[string]int{"64B": 1024, "4KiB": 256, "64KiB": 64}

// BenchmarkPairedFollow reads the LogsFollow rows' streams (raw, mgmtgen,
// own-conn, server-only: the same handler, fed through its channel by a
// producer goroutine as procd's follower does) in alternating blocks of
// followBlock frames, impl after impl, within one benchmark, as
// BenchmarkPaired does for round trips: each impl's stream is opened once
// and lives to the end, and its feeder is told at the start of each block
// to feed that block's chunks, so a block begins and ends with the stream
// idle and no impl's frames are written (or credited) while another's
// block is timed. (A stream fed without end would fill its socket and
// window while the others are read, and that work would be charged to
// the next impl's block.) The metric "X/raw" is the median over block
// pairs of the floor's block time over X's: throughput relative to raw,
// higher is better, as the follow target (>= 0.8x) is stated. The
// benchmark's own ns/op is one block of every impl and means nothing alone.
func BenchmarkPairedFollow(b *testing.B) {
	for _, cs := range chunkSizes {
		b.Run("chunk="+cs.name, func(b *testing.B) {
			data := LogsChunk(cs.n).Data
			n := followBlock[cs.name]
			var impls []pairedImpl
			for _, im := range []struct {
				name  string
				setup func(testing.TB, []byte) func(int) error
			}{
				{"raw", pairedFollowRaw},
				{"mgmtgen", func(tb testing.TB, data []byte) func(int) error {
					return pairedFollowMgmt(tb, data, mgmt.ClientOptions{})
				}},
				{"own-conn", func(tb testing.TB, data []byte) func(int) error {
					return pairedFollowMgmt(tb, data, mgmt.ClientOptions{Legacy: true})
				}},
				{"server-only", pairedFollowServerOnly},
			} {
				do := im.setup(b, data)
				for range 4 { // warm up
					if err := do(n); err != nil {
						b.Fatal(err)
					}
				}
				impls = append(impls, pairedImpl{im.name, func() error { return do(n) }})
			}
			runPaired(b, true, impls)
		})
	}
}

// feeder is a producer goroutine: told k (feed), it calls put k times, then
// waits to be told again; close ends it, also within a put that waits on
// stop.
type feeder struct {
	feed chan int
	stop chan struct{}
	wg   sync.WaitGroup
}

func startFeeder(put func(stop <-chan struct{}) bool) *feeder {
	f := &feeder{feed: make(chan int, 1), stop: make(chan struct{})}
	f.wg.Go(func() {
		for {
			select {
			case <-f.stop:
				return
			case k := <-f.feed:
				for range k {
					if !put(f.stop) {
						return
					}
				}
			}
		}
	})
	return f
}

func (f *feeder) close() {
	close(f.stop)
	f.wg.Wait()
}

// chunkFeeder feeds data into a handler's chunk channel, one chunk a put.
func chunkFeeder(ch chan<- []byte, data []byte) *feeder {
	return startFeeder(func(stop <-chan struct{}) bool {
		select {
		case ch <- data:
			return true
		case <-stop:
			return false
		}
	})
}

// pairedFollowMgmt is followMgmtFed's stream (fed by a producer, on a
// client dialled with opts), kept open: each call feeds k chunks and reads
// them with RecvInto into one reused value.
func pairedFollowMgmt(tb testing.TB, data []byte, opts mgmt.ClientOptions) func(int) error {
	h := newHandler()
	h.chunks = make(chan []byte, 64)
	s := openFollowMgmt(tb, h, opts)
	f := chunkFeeder(h.chunks, data)
	tb.Cleanup(func() { f.close(); s.Close() })
	var p mgmt.LogsStreamPayload // RecvInto reuses its Data buffer
	return func(k int) error {
		f.feed <- k
		for range k {
			if err := s.RecvInto(&p); err != nil {
				return err
			}
			if len(p.Data) != len(data) {
				return fmt.Errorf("got %d bytes, want %d", len(p.Data), len(data))
			}
		}
		return nil
	}
}

// pairedFollowServerOnly is followServerOnly kept open: the generated
// server, fed by a producer, read by the floor's client (frames into a
// reused buffer, nothing decoded).
func pairedFollowServerOnly(tb testing.TB, data []byte) func(int) error {
	h, c := openFollowServerOnly(tb)
	f := chunkFeeder(h.chunks, data)
	tb.Cleanup(f.close) // before the client's cleanup closes its conn
	buf := make([]byte, 0, len(data)+64)
	return func(k int) error {
		f.feed <- k
		for range k {
			hd, _, err := c.fr.ReadFrameInto(buf)
			if err != nil {
				return err
			}
			if hd.MsgType != mgmt.MsgLogsStream {
				return fmt.Errorf("bad frame %v", hd)
			}
		}
		return nil
	}
}

// pairedFollowRaw is followRaw kept open: a writer goroutine, told k,
// writes k pre-encoded frames, one write each; the client reads them
// through a buffered reader into a reused buffer, nothing decoded.
func pairedFollowRaw(tb testing.TB, data []byte) func(int) error {
	frame, nc, sc := rawFollowConns(tb, data)
	f := startFeeder(func(<-chan struct{}) bool {
		_, err := sc.Write(frame)
		return err == nil
	})
	// The writer is idle between blocks; closing the conns first ends a
	// write a failed block left waiting.
	tb.Cleanup(func() { nc.Close(); sc.Close(); f.close() })
	fr := ipc.NewFrameReader(nc, 0)
	buf := make([]byte, 0, len(frame))
	return func(k int) error {
		f.feed <- k
		return readRawFollow(fr, buf, len(frame), k)
	}
}

func TestPairedFollow(t *testing.T) {
	data := LogsChunk(4 << 10).Data
	for _, do := range []func(int) error{
		pairedFollowRaw(t, data),
		pairedFollowMgmt(t, data, mgmt.ClientOptions{}),
		pairedFollowMgmt(t, data, mgmt.ClientOptions{Legacy: true}),
		pairedFollowServerOnly(t, data),
	} {
		for _, k := range []int{1, 100, 300} { // 300: more than the handler's channel holds
			if err := do(k); err != nil {
				t.Fatal(err)
			}
		}
	}
}
