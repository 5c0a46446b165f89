package server_test

// Connections over MaxConns: closed, or answered "server full" (a bounded number at once).

import (
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

// A connection over MaxConns gets its first request answered with the
// protocol's error response saying the server is full, then is closed.
func TestMaxConnsAnswersFull(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{MaxConns: 1}, nil)
	a := dialRaw(t, path)
	a.send(servertest.MsgList, 1, nil)
	a.echo(1)
	extra := dialRaw(t, path)
	extra.send(servertest.MsgList, 7, nil)
	want := "server full: 1 connections open, the most this server accepts; try again later"
	if got := extra.status(7); got != want {
		t.Errorf("over the limit: %q, want %q", got, want)
	}
	extra.expectClosed(2 * time.Second)
	a.send(servertest.MsgList, 2, nil)
	a.echo(2)
}

// At most 16 refused connections are answered at once: of 40 dialled over
// the limit, 24 are closed at once, unanswered, and 16 get the answer.
func TestMaxConnsRefusalsBounded(t *testing.T) {
	leakCheck(t)
	server.SetRefuseTimeout(t, time.Minute) // no held connection gives up meanwhile
	_, path := startServer(t, server.Options{MaxConns: 1}, nil)
	a := dialRaw(t, path)
	a.send(servertest.MsgList, 1, nil)
	a.echo(1)
	extra := make([]*rawConn, 40)
	for i := range extra {
		extra[i] = dialRaw(t, path)
	}
	closed := func(c *rawConn) bool {
		c.nc.SetReadDeadline(time.Now().Add(time.Millisecond))
		_, _, err := c.fr.ReadFrame()
		var ne net.Error
		return !(errors.As(err, &ne) && ne.Timeout())
	}
	var open []*rawConn
	waitFor(t, "24 refused connections closed", func() bool {
		open = slices.DeleteFunc(slices.Clone(extra), closed)
		return len(open) <= len(extra)-24
	})
	answered := 0
	for i, c := range open {
		c.send(servertest.MsgList, uint64(i), nil)
		if got := c.status(uint64(i)); strings.HasPrefix(got, server.FullText+":") {
			answered++
		}
	}
	t.Logf("%d connections over the limit: %d closed at once, %d answered %q", len(extra), len(extra)-len(open), answered, server.FullText)
	if len(open) != 16 || answered != 16 {
		t.Errorf("%d refused connections held, %d answered; want 16 and 16", len(open), answered)
	}
}

func frameList(t *testing.T, seq uint64) []byte {
	frame, err := ipc.AppendFrame(nil, ipc.Header{MsgType: servertest.MsgList, SeqNo: seq}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return frame
}

func TestMaxConns(t *testing.T) {
	leakCheck(t)
	var logs logBuffer
	_, path := startServer(t, server.Options{MaxConns: 2, Logger: newLogger(&logs)}, nil)
	a, b := dialRaw(t, path), dialRaw(t, path)
	for _, c := range []*rawConn{a, b} {
		c.send(servertest.MsgList, 1, nil)
		c.echo(1)
	}
	extra := dialRaw(t, path)
	extra.expectClosed(2 * time.Second)
	if !strings.Contains(logs.String(), "too many connections") {
		t.Errorf("refusal not logged:\n%s", logs.String())
	}
	b.send(servertest.MsgList, 2, nil) // the accepted ones keep working
	b.echo(2)
	a.nc.Close()
	waitFor(t, "a free slot", func() bool {
		c := dialRaw(t, path)
		c.send(servertest.MsgList, 1, nil)
		c.nc.SetReadDeadline(time.Now().Add(time.Second))
		_, _, err := c.fr.ReadFrame()
		c.nc.Close()
		return err == nil
	})
}
