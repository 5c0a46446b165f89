package mgmt_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// raiseNoFile raises RLIMIT_NOFILE to at least want (root may raise the hard
// limit too) and restores it at cleanup; it skips when it cannot.
func raiseNoFile(t *testing.T, want uint64) {
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Skipf("getrlimit: %v", err)
	}
	if old.Cur >= want {
		return
	}
	lim := syscall.Rlimit{Cur: want, Max: max(old.Max, want)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		if old.Max < want {
			t.Skipf("RLIMIT_NOFILE hard limit %d < %d and cannot be raised: %v", old.Max, want, err)
		}
		lim = syscall.Rlimit{Cur: want, Max: old.Max}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Skipf("setrlimit: %v", err)
		}
	}
	t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
}

// dialRetry dials path, retrying while the listen backlog is full.
func dialRetry(path string) (net.Conn, error) {
	for i := 0; ; i++ {
		nc, err := net.Dial("unix", path)
		if err == nil || !errors.Is(err, syscall.EAGAIN) || i > 2000 {
			return nc, err
		}
		time.Sleep(time.Millisecond)
	}
}

// peerClosed reports, without blocking, whether the server closed nc.
func peerClosed(nc net.Conn) bool {
	rc, err := nc.(*net.UnixConn).SyscallConn()
	if err != nil {
		return true
	}
	closed := false
	rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_DONTWAIT|syscall.MSG_PEEK)
		closed = n == 0 && err == nil || err != nil && !errors.Is(err, syscall.EAGAIN)
		return true
	})
	return closed
}

// hConns is how many connections TestOverloadManyIdleConns opens (about
// 1 s, under -race too).
const hConns = 10000

// TestOverloadManyIdleConns opens hConns connections against a server admitting 1,000: the extras are closed at once, the
// admitted ones are kept and still answered, and a freed slot is reused.
func TestOverloadManyIdleConns(t *testing.T) {
	if testing.Short() {
		t.Skip("opens thousands of connections")
	}
	const maxConns = 1000
	n := hConns
	raiseNoFile(t, uint64(n+maxConns+1024))
	noLeaks(t)
	_, path, logs := hStart(t, mgmt.ServerOptions{MaxConns: maxConns, IdleTimeout: -1})
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, nc := range conns {
			nc.Close()
		}
	}()
	start := time.Now()
	for range n {
		nc, err := dialRetry(path)
		if err != nil {
			t.Fatalf("dial %d: %v", len(conns), err)
		}
		conns = append(conns, nc)
	}
	var open []net.Conn
	hWaitFor(t, 20*time.Second, "the server to settle", func() bool {
		open = slices.DeleteFunc(slices.Clone(conns), peerClosed)
		return len(open) == maxConns
	})
	t.Logf("%d connections dialled in %v: %d admitted, %d refused", n, time.Since(start), len(open), n-len(open))
	// The admitted connections are served, each of a sample in turn.
	for i := 0; i < len(open); i += len(open) / 20 {
		c := &hConn{t: t, nc: open[i], fr: ipc.NewFrameReader(open[i], 0)}
		c.list(1)
	}
	// A freed slot admits a new connection.
	open[0].Close()
	hWaitFor(t, 5*time.Second, "a freed slot", func() bool {
		nc, err := dialRetry(path)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, nc)
		time.Sleep(10 * time.Millisecond)
		return !peerClosed(nc)
	})
	if !strings.Contains(logs.String(), "too many connections") {
		t.Error("refusals not logged")
	}
}

// TestOverloadHalfHeaderStall: a client that sends half a header and
// stalls, or trickles a byte at a time, is cut off by IdleTimeout.
func TestOverloadHalfHeaderStall(t *testing.T) {
	noLeaks(t)
	const idle = 200 * time.Millisecond
	_, path, _ := hStart(t, mgmt.ServerOptions{IdleTimeout: idle})
	frame := hFrame(mgmt.MsgListRequest, 1, nil)

	// The server's idle clock starts when it accepts the connection, so the
	// measurement starts before the dial: it can only overstate the time.
	start := time.Now()
	c := hDial(t, path)
	c.write(frame[:8])
	if !c.closed(5 * time.Second) {
		t.Fatal("half-header client not cut off")
	}
	if d := time.Since(start); d < idle || d > idle+time.Second {
		t.Errorf("half-header client cut off after %v, idle timeout %v", d, idle)
	}

	start = time.Now()
	c = hDial(t, path)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; i < ipc.HeaderSize-1; i++ {
			select {
			case <-stop:
				return
			case <-time.After(idle / 4):
			}
			if _, err := c.nc.Write(frame[i : i+1]); err != nil {
				return
			}
		}
	})
	closed := c.closed(5 * time.Second)
	close(stop)
	wg.Wait()
	if !closed {
		t.Fatal("trickling client not cut off")
	}
	t.Logf("trickling client (a byte every %v) cut off after %v", idle/4, time.Since(start))
}

// latencies runs List on cl n times and returns the slowest.
func latencies(t *testing.T, cl *mgmt.Client, n int, every time.Duration) time.Duration {
	var worst time.Duration
	for range n {
		s := time.Now()
		if _, err := cl.List(hCtx(t, 5*time.Second)); err != nil {
			t.Errorf("List: %v", err)
			return worst
		}
		worst = max(worst, time.Since(s))
		time.Sleep(every)
	}
	return worst
}

// TestOverloadSlowStreamConsumer: a Logs follower that stops reading is
// dropped once a Send has blocked StreamSendTimeout; other clients see no
// delay meanwhile.
func TestOverloadSlowStreamConsumer(t *testing.T) {
	noLeaks(t)
	const sendTimeout = 300 * time.Millisecond
	h := newHHandler()
	h.flood, h.chunk = 100*time.Microsecond, 32<<10
	h.ended = make(chan error, 1)
	_, path, _ := hStart(t, mgmt.ServerOptions{Handler: h, StreamSendTimeout: sendTimeout})
	cl, err := mgmt.Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	base := latencies(t, cl, 20, time.Millisecond)

	slow := hDial(t, path)
	start := time.Now()
	slow.write(hMsgFrame(mgmt.MsgLogsRequest, 1, &mgmt.LogsRequestPayload{ID: "a", Follow: true}))
	done := make(chan time.Duration, 1)
	go func() {
		select {
		case <-h.ended:
			done <- time.Since(start)
		case <-time.After(10 * time.Second):
			done <- -1
		}
	}()
	during := latencies(t, cl, 50, 10*time.Millisecond)
	d := <-done
	if d < 0 {
		t.Fatal("slow consumer's stream never ended")
	}
	t.Logf("slow consumer dropped after %v (send timeout %v); List worst latency %v before, %v during", d, sendTimeout, base, during)
	if during > 100*time.Millisecond+base {
		t.Errorf("other clients delayed: worst List %v during the stall", during)
	}
	// The slow consumer's connection is closed: draining it ends in EOF.
	slow.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64<<10)
	for {
		if _, err := slow.nc.Read(buf); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("slow consumer's connection still open")
			}
			break
		}
	}
}

// TestOverloadBlockedHandler: 64 clients doing mixed calls while one
// handler blocks forever, on a connection the others share too.
func TestOverloadBlockedHandler(t *testing.T) {
	noLeaks(t)
	h := newHHandler()
	_, path, _ := hStart(t, mgmt.ServerOptions{Handler: h})
	defer close(h.release)
	shared, err := mgmt.Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer shared.Close()
	blocked := make(chan error, 1)
	go func() {
		_, err := shared.Status(context.Background(), &mgmt.StatusRequestPayload{ID: "block"})
		blocked <- err
	}()
	hWaitFor(t, 5*time.Second, "the blocking call", func() bool { return h.blockedCalls() == 1 })

	const clients, rounds = 64, 20
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Go(func() {
			cl := shared
			if i > 0 {
				c, err := mgmt.Dial(path)
				if err != nil {
					errs <- err
					return
				}
				defer c.Close()
				cl = c
			}
			if err := mixedCalls(hCtx(t, 20*time.Second), cl, i, rounds); err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	select {
	case err := <-blocked:
		t.Fatalf("blocked call returned: %v", err)
	default:
	}
}

// mixedCalls runs rounds of List, Status, Stop, Start and a Logs snapshot,
// checking every answer belongs to its request.
func mixedCalls(ctx context.Context, cl *mgmt.Client, id, rounds int) error {
	for r := range rounds {
		pid := fmt.Sprintf("p%d-%d", id, r)
		if l, err := cl.List(ctx); err != nil || len(l.Entries) != 1 {
			return fmt.Errorf("List: %v %v", l, err)
		}
		if s, err := cl.Status(ctx, &mgmt.StatusRequestPayload{ID: pid}); err != nil || s.Entry.ID != pid {
			return fmt.Errorf("Status %s: %+v %v", pid, s, err)
		}
		if s, err := cl.Stop(ctx, &mgmt.StopRequestPayload{ID: pid}); err != nil || s.Entry.ID != pid || s.Entry.State != "stopped" {
			return fmt.Errorf("Stop %s: %+v %v", pid, s, err)
		}
		if s, err := cl.Start(ctx, &mgmt.StartRequestPayload{ID: pid}); err != nil || s.Entry.ID != pid || s.Entry.State != "running" {
			return fmt.Errorf("Start %s: %+v %v", pid, s, err)
		}
		if r%5 == 0 {
			st, err := cl.Logs(ctx, &mgmt.LogsRequestPayload{ID: pid})
			if err != nil {
				return fmt.Errorf("Logs: %w", err)
			}
			p, err := st.Recv()
			st.Close()
			if err != nil || p.ID != pid || !p.EOF {
				return fmt.Errorf("Logs %s: %+v %v", pid, p, err)
			}
		}
	}
	return nil
}
