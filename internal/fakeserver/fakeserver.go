// Package fakeserver serves a Unix listener with a function per connection,
// for the tests (and test commands) that play a server by hand: a
// cliwrap-style legacy manager, a hostile one, the benchmarks' raw floor.
// The accept loop, the connections' goroutines and their orderly end live
// here once; what is said on a connection is the caller's. SocketDir is the
// short directory such tests (and those of real servers) put sockets in.
package fakeserver

import (
	"net"
	"os"
	"sync"
	"testing"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// Serve accepts connections on ln until it is closed, and runs conn(nc, n)
// on a goroutine of its own for each (n counts them from 1), closing nc
// when conn returns. Once ln is closed it closes every connection still
// open, which ends conn's blocked reads and writes, and returns when every
// conn has returned.
func Serve(ln net.Listener, conn func(nc net.Conn, n int)) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
	)
	for n := 1; ; n++ {
		nc, err := ln.Accept()
		if err != nil {
			break
		}
		mu.Lock()
		conns[nc] = struct{}{}
		mu.Unlock()
		wg.Go(func() {
			defer func() {
				mu.Lock()
				delete(conns, nc)
				mu.Unlock()
				nc.Close()
			}()
			conn(nc, n)
		})
	}
	mu.Lock()
	for nc := range conns {
		nc.Close()
	}
	mu.Unlock()
	wg.Wait()
}

// Start runs Serve(ln, conn) in the background until stop, or tb's end,
// closes ln; stop (which tb's cleanup calls too) returns once Serve has.
func Start(tb testing.TB, ln net.Listener, conn func(nc net.Conn, n int)) (stop func()) {
	served := make(chan struct{})
	go func() {
		defer close(served)
		Serve(ln, conn)
	}()
	stop = func() {
		ln.Close()
		<-served
	}
	tb.Cleanup(stop)
	return stop
}

// Frames is a conn function for Serve that reads the connection's frames
// and hands each to answer, until a read fails or answer returns false.
func Frames(answer func(nc net.Conn, h ipc.Header, body []byte) bool) func(net.Conn, int) {
	return func(nc net.Conn, _ int) {
		fr := ipc.NewFrameReader(nc, 0)
		for {
			h, body, err := fr.ReadFrame()
			if err != nil || !answer(nc, h, body) {
				return
			}
		}
	}
}

// SocketDir returns a fresh temporary directory with a short path, removed
// when tb ends: a socket's path must fit in sun_path's 108 bytes, and
// t.TempDir's holds the test's name. prefix starts the directory's name.
func SocketDir(tb testing.TB, prefix string) string {
	tb.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
