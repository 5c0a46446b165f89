package server_test

// Overload by many or slow peers: ten thousand connections against a
// server that admits a thousand; clients that send requests and never read
// the answers.

import (
	"errors"
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
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

// TestOverloadManyIdleConns opens 10,000 connections (about 1 s, under
// -race too) against a server admitting 1,000: the extras are closed, the
// admitted ones are kept and still answered, and a freed slot is reused.
func TestOverloadManyIdleConns(t *testing.T) {
	if testing.Short() {
		t.Skip("opens thousands of connections")
	}
	const n, maxConns = 10000, 1000
	raiseNoFile(t, uint64(n+maxConns+1024))
	leakCheck(t)
	var logs logBuffer
	_, path := startServer(t, server.Options{MaxConns: maxConns, IdleTimeout: -1, Logger: logs.Logger()}, nil)
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
	waitWithin(t, 20*time.Second, "the server to settle", func() bool {
		open = slices.DeleteFunc(slices.Clone(conns), peerClosed)
		return len(open) == maxConns
	})
	t.Logf("%d connections dialled in %v: %d admitted, %d refused", n, time.Since(start), len(open), n-len(open))
	// The admitted connections are served, each of a sample in turn.
	for i := 0; i < len(open); i += len(open) / 20 {
		c := &rawConn{t: t, nc: open[i], fr: ipc.NewFrameReader(open[i], 0)}
		c.list(1)
	}
	// A freed slot admits a new connection.
	open[0].Close()
	waitFor(t, "a freed slot", func() bool {
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

// TestUnaryWriteTimeout: a client that sends requests but never reads the
// answers is dropped after the write timeout.
func TestUnaryWriteTimeout(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{WriteTimeout: 100 * time.Millisecond}, nil)
	c := dialRaw(t, path)
	big := strings.Repeat("x", 256<<10)
	go func() {
		for i := range 64 {
			frame := seedFrame(servertest.MsgEcho, uint64(i+1), &servertest.EchoRequest{ID: big})
			if _, err := c.nc.Write(frame); err != nil {
				return
			}
		}
	}()
	time.Sleep(time.Second)
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := c.fr.ReadFrame(); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("connection not dropped")
			}
			return
		}
	}
}

// schedulingSlack is how late a round trip that waits for nothing may be
// on a loaded 2-core machine under -race.
const schedulingSlack = 100 * time.Millisecond

// TestUnreadResponsesDropped: a client that floods requests and never reads
// a response is dropped once a response write has blocked WriteTimeout;
// the server meanwhile answers others without waiting for that: none of
// their calls takes longer than a round trip plus schedulingSlack.
func TestUnreadResponsesDropped(t *testing.T) {
	leakCheck(t)
	const writeTimeout = time.Second
	_, path := startServer(t, server.Options{WriteTimeout: writeTimeout}, nil)
	flood := dialRaw(t, path)
	var batch []byte
	for i := range 1000 {
		f, _ := ipc.AppendMsgFrame(nil, ipc.Header{MsgType: servertest.MsgEcho, SeqNo: uint64(i + 1)},
			&servertest.EchoRequest{ID: strings.Repeat("r", 1000)})
		batch = append(batch, f...)
	}
	start := time.Now()
	dropped := make(chan time.Duration, 1)
	go func() {
		for {
			flood.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, err := flood.nc.Write(batch); err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					dropped <- -1
				} else {
					dropped <- time.Since(start)
				}
				return
			}
		}
	}()
	other := dialRaw(t, path)
	var worst time.Duration
	for i := range 30 {
		s := time.Now()
		other.send(servertest.MsgList, uint64(i+1), nil)
		other.echo(uint64(i + 1))
		worst = max(worst, time.Since(s))
		time.Sleep(10 * time.Millisecond)
	}
	d := <-dropped
	if d < 0 {
		t.Fatal("flooding client that never reads was not dropped within 10 s")
	}
	t.Logf("non-reading client dropped after %v (write timeout %v); other client's worst latency %v", d, writeTimeout, worst)
	// Nothing of the flooding connection is shared with another: its reader,
	// its handlers (at most MaxCallsPerConn, their answers queued behind the
	// blocked write, none of them waiting) and its writer are its own. So
	// the other client's round trips wait for nothing but the CPU: the bound
	// is slack for scheduling on a loaded 2-core machine under -race.
	if worst > schedulingSlack {
		t.Errorf("other client delayed: worst round trip %v, more than %v", worst, schedulingSlack)
	}
}
