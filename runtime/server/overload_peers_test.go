package server_test

// Overload by many peers: ten thousand connections against a server that
// admits a thousand.

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
