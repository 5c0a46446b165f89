package mgmt_test

// Multiplexed streams (feature "mux", docs/wire.md "Multiplexed streams")
// through the generated client and server: streams share the client's
// connection with its calls, a slow stream reader ends only its stream, the
// per-connection stream budget, cancellation, shutdown, and the legacy
// fallback that dials a connection per stream.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/status"
)

// muxHandler answers Status at once, and Logs with r.Lines frames of data
// (at least 1), the last with EOF unless r.Follow; a follow then waits for
// its context, whose end it reports on ended (by request ID).
func muxHandler(ended chan<- string) *handler {
	return &handler{
		status: func(_ context.Context, r *mgmt.StatusRequestPayload) (*mgmt.StatusResponsePayload, error) {
			return &mgmt.StatusResponsePayload{Entry: entry(r.ID)}, nil
		},
		logs: func(ctx context.Context, r *mgmt.LogsRequestPayload, out mgmt.LogsSender) error {
			n := max(r.Lines, 1)
			for i := range n {
				f := &mgmt.LogsStreamPayload{ID: r.ID, Data: fmt.Appendf(nil, "%s line %d\n", r.ID, i), EOF: !r.Follow && i == n-1}
				if err := out.Send(f); err != nil {
					if r.Follow && ended != nil {
						ended <- r.ID
					}
					return err
				}
			}
			if !r.Follow {
				return nil
			}
			if err := out.Ready(); err != nil {
				return err
			}
			<-ctx.Done()
			if ended != nil {
				ended <- r.ID
			}
			return ctx.Err()
		},
	}
}

// countingDial is a client.Options.Dial that counts the connections made.
func countingDial(n *atomic.Int32) func(ctx context.Context, path string) (net.Conn, error) {
	return func(ctx context.Context, path string) (net.Conn, error) {
		n.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}
}

// statusOK makes a Status call on c, which must succeed (when says when).
func statusOK(t *testing.T, c *mgmt.Client, when string) {
	t.Helper()
	if resp, err := c.Status(testCtx(t), &mgmt.StatusRequestPayload{ID: "x"}); err != nil || resp.Entry.ID != "x" {
		t.Fatalf("Status %s = %+v, %v", when, resp, err)
	}
}

// muxSetup starts a muxHandler server, whose follows report their end on
// ended, and dials it with opts, counting the client's dials.
func muxSetup(t *testing.T, opts mgmt.ClientOptions, srv ...func(*mgmt.ServerOptions)) (c *mgmt.Client, ended chan string, dials *atomic.Int32) {
	t.Helper()
	ended = make(chan string, 4)
	_, path, _ := startServer(t, muxHandler(ended), srv...)
	dials = new(atomic.Int32)
	opts.Dial = countingDial(dials)
	return dialOptions(t, path, opts), ended, dials
}

// readSnapshot reads a Logs snapshot to its end and checks its lines.
func readSnapshot(s *mgmt.LogsClientStream, id string, lines int) error {
	i := 0
	for p, err := range s.All() {
		if err != nil {
			return err
		}
		if want := fmt.Sprintf("%s line %d\n", id, i); string(p.Data) != want || p.EOF != (i == lines-1) {
			return fmt.Errorf("frame %d = %q (EOF %v), want %q", i, p.Data, p.EOF, want)
		}
		i++
	}
	if i != lines {
		return fmt.Errorf("%d frames, want %d", i, lines)
	}
	return nil
}

// On an extended connection a Logs snapshot and a follow run on the
// client's one connection while unary calls go on beside them: one dial in
// all. The follow's frames and the calls' answers interleave on it.
func TestMuxStreamsShareConnection(t *testing.T) {
	noLeaks(t)
	c, ended, dials := muxSetup(t, mgmt.ClientOptions{})
	ctx := testCtx(t)

	follow, err := c.Logs(ctx, &mgmt.LogsRequestPayload{ID: "f", Follow: true, Lines: 3})
	if err != nil {
		t.Fatalf("Logs follow: %v", err)
	}
	defer follow.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 4 {
		wg.Go(func() {
			for i := range 20 {
				id := fmt.Sprintf("p%d-%d", g, i)
				resp, err := c.Status(ctx, &mgmt.StatusRequestPayload{ID: id})
				if err != nil || resp.Entry.ID != id {
					errs <- fmt.Errorf("Status(%s) = %+v, %v", id, resp, err)
					return
				}
			}
		})
	}
	for i := range 5 {
		wg.Go(func() {
			id := fmt.Sprintf("s%d", i)
			s, err := c.Logs(ctx, &mgmt.LogsRequestPayload{ID: id, Lines: 50})
			if err == nil {
				err = readSnapshot(s, id, 50)
			}
			if err != nil {
				errs <- fmt.Errorf("snapshot %s: %w", id, err)
			}
		})
	}
	for i := range 3 {
		p, err := follow.Recv()
		if err != nil || string(p.Data) != fmt.Sprintf("f line %d\n", i) {
			t.Fatalf("follow frame %d = %+v, %v", i, p, err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("%d dials for 1 follow, 5 snapshots and 80 calls, want 1 (streams multiplexed)", n)
	}
	follow.Close()
	if id := recv(t, ended, "the follow's handler to end"); id != "f" {
		t.Errorf("ended %q", id)
	}
}

// stalledSlow opens the follow "slow" (1000 frames) on c and receives
// nothing from it, nor does a call run, until its handler's Send has
// waited StreamSendTimeout (200 ms) for credit and ended (reported on
// ended); then it receives what came, which must be its first frames in
// order and the server's ResourceExhausted end, and returns the payload
// size of each frame (what the server counted against the window).
func stalledSlow(t *testing.T, c *mgmt.Client, ended chan string) []int {
	t.Helper()
	slow, err := c.Logs(testCtx(t), &mgmt.LogsRequestPayload{ID: "slow", Follow: true, Lines: 1000})
	if err != nil {
		t.Fatalf("Logs slow: %v", err)
	}
	defer slow.Close()
	if id := recv(t, ended, "the slow stream's handler to end"); id != "slow" {
		t.Fatalf("ended %q, want slow", id)
	}
	statusOK(t, c, "after the stall")
	var sizes []int
	for {
		p, err := slow.Recv()
		if err != nil {
			const want = "Logs: server: Logs stream: client stopped reading the stream for 200ms"
			if status.CodeOf(err) != status.ResourceExhausted || !strings.HasSuffix(err.Error(), want) {
				t.Fatalf("slow Recv after %d frames = %v, want ResourceExhausted ...%q", len(sizes), err, want)
			}
			return sizes
		}
		if want := fmt.Sprintf("slow line %d\n", len(sizes)); string(p.Data) != want {
			t.Fatalf("slow frame %d = %q, want %q", len(sizes), p.Data, want)
		}
		b, err := p.MarshalMsg(nil)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(b))
	}
}

// A stream whose reader stops reading ends alone: the server sends it no
// more than its window (flow control), its handler's Send waits and, after
// the server's StreamSendTimeout, fails; the stream ends with
// ResourceExhausted, and the connection's other calls and streams go on.
// The client reads for it meanwhile even with no call going on (nothing
// reads the socket but the client's drain), so the server never stalls.
func TestMuxStalledReaderEndsOnlyItsStream(t *testing.T) {
	noLeaks(t)
	c, ended, dials := muxSetup(t, mgmt.ClientOptions{StreamQueueFrames: 8, StreamQueueBytes: 1 << 20},
		func(o *mgmt.ServerOptions) { o.StreamSendTimeout = 200 * time.Millisecond })
	ctx := testCtx(t)

	other, err := c.Logs(ctx, &mgmt.LogsRequestPayload{ID: "other", Follow: true})
	if err != nil {
		t.Fatalf("Logs: %v", err)
	}
	defer other.Close()
	if p, err := other.Recv(); err != nil || string(p.Data) != "other line 0\n" {
		t.Fatalf("other's frame = %+v, %v", p, err)
	}
	// Its window's worth came, in order, then its end.
	if got := len(stalledSlow(t, c, ended)); got != 8 {
		t.Errorf("%d frames of the stalled stream came, want its window of 8", got)
	}
	// The other stream is untouched, and a new snapshot runs.
	s, err := c.Logs(ctx, &mgmt.LogsRequestPayload{ID: "snap", Lines: 6})
	if err != nil {
		t.Fatal(err)
	}
	if err := readSnapshot(s, "snap", 6); err != nil {
		t.Errorf("snapshot after the stall: %v", err)
	}
	other.Close()
	if id := recv(t, ended, "the other stream's handler to end"); id != "other" {
		t.Errorf("ended %q, want other", id)
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("%d dials, want 1", n)
	}
}

// The byte window holds too: a stream nobody receives from gets frames
// until their payload bytes reach its StreamQueueBytes (the last frame goes
// while some byte credit is left) and no more, all of them held in its
// queue, not ended by the client (the server honoured the window), then
// the server's end when its Send has waited StreamSendTimeout for credit.
func TestMuxStalledReaderHoldsItsByteWindow(t *testing.T) {
	noLeaks(t)
	const window = 300
	c, ended, _ := muxSetup(t, mgmt.ClientOptions{StreamQueueFrames: 1000, StreamQueueBytes: window},
		func(o *mgmt.ServerOptions) { o.StreamSendTimeout = 200 * time.Millisecond })
	sizes := stalledSlow(t, c, ended)
	total := 0
	for _, n := range sizes {
		total += n
	}
	if len(sizes) == 0 || total-sizes[len(sizes)-1] >= window || total < window {
		t.Errorf("%d frames of %v bytes came (%d in all), want those whose payload first reaches the window of %d bytes",
			len(sizes), sizes, total, window)
	}
}

// A fast producer and a slow reader, with a window of 8 frames: every
// frame comes, in order, and the stream is not ended (the server waits
// for credit instead of overrunning the reader), while unary calls on the
// same connection keep being answered.
func TestMuxFlowControlSlowReader(t *testing.T) {
	noLeaks(t)
	c, _, _ := muxSetup(t, mgmt.ClientOptions{StreamQueueFrames: 8, StreamQueueBytes: 256})
	ctx := testCtx(t)
	const lines = 3000
	s, err := c.Logs(ctx, &mgmt.LogsRequestPayload{ID: "fast", Lines: lines})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stop := make(chan struct{})
	calls := make(chan error, 1)
	var answered atomic.Int32
	go func() {
		for {
			select {
			case <-stop:
				calls <- nil
				return
			default:
			}
			id := fmt.Sprintf("c%d", answered.Load())
			resp, err := c.Status(ctx, &mgmt.StatusRequestPayload{ID: id})
			if err != nil || resp.Entry.ID != id {
				calls <- fmt.Errorf("Status(%s) = %+v, %v", id, resp, err)
				return
			}
			answered.Add(1)
		}
	}()
	i := 0
	for p, err := range s.All() {
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if want := fmt.Sprintf("fast line %d\n", i); string(p.Data) != want || p.EOF != (i == lines-1) {
			t.Fatalf("frame %d = %q (EOF %v), want %q", i, p.Data, p.EOF, want)
		}
		if i == lines/2 {
			statusOK(t, c, "in the middle of the stream")
		}
		if i%100 == 0 { // slower than the producer: it waits for credit
			time.Sleep(time.Millisecond)
		}
		i++
	}
	close(stop)
	if err := <-calls; err != nil {
		t.Error(err)
	}
	if i != lines {
		t.Errorf("%d frames, want %d", i, lines)
	}
}

// A connection runs at most MaxStreamsPerConn streams at once: one more is
// refused with ResourceExhausted for that stream alone, the connection goes
// on, and a stream can open again once one ends.
func TestMuxStreamBudget(t *testing.T) {
	noLeaks(t)
	ended := make(chan string, 4)
	_, path, logs := startServer(t, muxHandler(ended), func(o *mgmt.ServerOptions) { o.MaxStreamsPerConn = 2 })
	c := dial(t, path)
	ctx := testCtx(t)
	open := func(id string) *mgmt.LogsClientStream {
		s, err := c.Logs(ctx, &mgmt.LogsRequestPayload{ID: id, Follow: true})
		if err != nil {
			t.Fatalf("Logs %s: %v", id, err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open("a"), open("b")
	for _, s := range []*mgmt.LogsClientStream{a, b} {
		if _, err := s.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	_, err := open("c").Recv()
	var re *client.RemoteError
	if !errors.As(err, &re) || re.Code != status.ResourceExhausted ||
		re.Text != "server: too many streams on this connection (limit 2); close one or try again later" {
		t.Fatalf("third stream's Recv = %v, want a RemoteError ResourceExhausted naming the limit", err)
	}
	statusOK(t, c, "beside 2 streams")
	// Another connection has its own budget.
	if _, err := dial(t, path).Logs(ctx, &mgmt.LogsRequestPayload{ID: "elsewhere", Lines: 1}); err != nil {
		t.Fatalf("a stream on another connection: %v", err)
	}
	a.Close()
	if id := recv(t, ended, "a's handler to end"); id != "a" {
		t.Fatalf("ended %q", id)
	}
	d := open("d")
	if p, err := d.Recv(); err != nil || string(p.Data) != "d line 0\n" {
		t.Fatalf("stream after one ended = %+v, %v", p, err)
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("server logged errors:\n%s", logs.String())
	}
}

// Closing a mux stream, or cancelling its context, ends the handler's
// context (the client sends Cancel) and leaves the connection usable.
func TestMuxStreamCancel(t *testing.T) {
	noLeaks(t)
	c, ended, dials := muxSetup(t, mgmt.ClientOptions{})
	ctx := testCtx(t)

	s, err := c.Logs(ctx, &mgmt.LogsRequestPayload{ID: "closed", Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if id := within(t, ended, prompt, "the closed stream's handler to end"); id != "closed" {
		t.Fatalf("ended %q", id)
	}
	if _, err := s.Recv(); err != io.EOF {
		t.Errorf("Recv after Close = %v, want io.EOF", err)
	}

	sctx, cancel := context.WithCancel(ctx)
	s, err = c.Logs(sctx, &mgmt.LogsRequestPayload{ID: "cancelled", Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { _, err := s.Recv(); got <- err }() // blocked in Recv, holding the reading role
	cancel()
	if err := within(t, got, prompt, "Recv to return on cancel"); !errors.Is(err, context.Canceled) {
		t.Errorf("Recv on cancel = %v, want context.Canceled", err)
	}
	if id := within(t, ended, prompt, "the cancelled stream's handler to end"); id != "cancelled" {
		t.Fatalf("ended %q", id)
	}
	statusOK(t, c, "after")
	if n := dials.Load(); n != 1 {
		t.Errorf("%d dials, want 1", n)
	}
}

// The server's Close ends the mux streams of a connection, which end
// complete (io.EOF), as on a connection of their own; Close returns.
func TestMuxStreamsEndOnServerClose(t *testing.T) {
	noLeaks(t)
	srv, path, _ := startServer(t, muxHandler(nil))
	c := dial(t, path)
	ctx := testCtx(t)
	var streams []*mgmt.LogsClientStream
	for _, id := range []string{"a", "b", "c"} {
		s, err := c.Logs(ctx, &mgmt.LogsRequestPayload{ID: id, Follow: true})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.Recv(); err != nil {
			t.Fatal(err)
		}
		streams = append(streams, s)
	}
	closed := make(chan error, 1)
	go func() { closed <- srv.Close(ctx) }()
	for i, s := range streams {
		if _, err := s.Recv(); err != io.EOF {
			t.Errorf("stream %d after server Close: %v, want io.EOF", i, err)
		}
	}
	if err := recv(t, closed, "server Close"); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// Without mux (a legacy server, or a client that does not negotiate)
// every stream dials a connection of its own, as before.
func TestMuxLegacyDialsPerStream(t *testing.T) {
	noLeaks(t)
	h := muxHandler(nil)
	_, extPath, _ := startServer(t, h)
	_, legacyPath, _ := startServer(t, h, func(o *mgmt.ServerOptions) { o.Legacy = true })
	for _, tc := range []struct {
		name, path string
		opts       mgmt.ClientOptions
	}{
		{"legacy server", legacyPath, mgmt.ClientOptions{}},
		{"legacy client", extPath, mgmt.ClientOptions{Legacy: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var dials atomic.Int32
			tc.opts.Dial = countingDial(&dials)
			c := dialOptions(t, tc.path, tc.opts)
			ctx := testCtx(t)
			if _, err := c.Status(ctx, &mgmt.StatusRequestPayload{ID: "x"}); err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				s, err := c.Logs(ctx, &mgmt.LogsRequestPayload{ID: "l", Lines: 2})
				if err != nil {
					t.Fatal(err)
				}
				if err := readSnapshot(s, "l", 2); err != nil {
					t.Errorf("snapshot %d: %v", i, err)
				}
			}
			if n := dials.Load(); n != 4 {
				t.Errorf("%d dials for a call and 3 streams, want 4 (one per stream)", n)
			}
		})
	}
}

// Streams opened at once on one connection each get their frames, however
// the reading role and the frames cross between their Recvs (a Recv handed
// the role while its frame sat in its queue once waited for another).
func TestMuxConcurrentOpens(t *testing.T) {
	noLeaks(t)
	_, path, _ := startServer(t, muxHandler(nil))
	for round := range 50 {
		c := dial(t, path)
		ctx := testCtx(t)
		if _, err := c.Status(ctx, &mgmt.StatusRequestPayload{ID: "x"}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Go(func() {
				id := fmt.Sprint(i)
				s, err := c.Logs(ctx, &mgmt.LogsRequestPayload{ID: id, Follow: true, Lines: 2})
				if err != nil {
					t.Errorf("round %d: stream %s: %v", round, id, err)
					return
				}
				defer s.Close()
				for j := range 2 {
					if p, err := s.Recv(); err != nil || string(p.Data) != fmt.Sprintf("%s line %d\n", id, j) {
						t.Errorf("round %d: stream %s: frame %d = %+v, %v", round, id, j, p, err)
						return
					}
				}
			})
		}
		wg.Wait()
		c.Close()
		if t.Failed() {
			return
		}
	}
}
