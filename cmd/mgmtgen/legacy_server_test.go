package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/mgmtgen/mgmtgen/internal/fakeserver"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// The legacy server answers as a cliwrap manager does, encoding with
// vmihailenco/msgpack (cliwrap's codec: nil slices as nil, its own integer
// widths) and writing each frame's header and payload in two writes. What it
// knows (docs/wire.md's message ids):
//
//	List          two entries, pid as uint16/uint32 forms, rss as uint64
//	Status ID     "web": its entry; otherwise Err "cliwrap: process not found"
//	Stop ID       "hang": never answered (for timeouts); otherwise an empty Err
//	Logs          snapshot: one frame, EOF true; follow: the snapshot with EOF
//	              false, then nothing until the client goes
//	Events        two events, then it closes the connection
//	anything else StatusResponse "unknown request type 0xNN"

type legacyEntry struct {
	ID       string `msgpack:"id"`
	Name     string `msgpack:"name"`
	State    string `msgpack:"state"`
	ChildPID int    `msgpack:"pid"`
	RSS      uint64 `msgpack:"rss"`
}

type legacyStatus struct {
	Entry legacyEntry `msgpack:"entry"`
	Err   string      `msgpack:"err"`
}

type legacyLogsReq struct {
	ID     string `msgpack:"id"`
	Stream uint8  `msgpack:"s"`
	Follow bool   `msgpack:"f"`
}

type legacyLogsFrame struct {
	ID     string `msgpack:"id"`
	Stream uint8  `msgpack:"s"`
	Data   []byte `msgpack:"d"`
	EOF    bool   `msgpack:"eof"`
}

type legacyEvent struct {
	ProcessID string `msgpack:"pid"`
	Type      string `msgpack:"t"`
	Timestamp int64  `msgpack:"ts"`
	Summary   string `msgpack:"sum"`
}

var legacyEntries = []legacyEntry{
	{ID: "web", Name: "Web server", State: "running", ChildPID: 4242, RSS: 1 << 20},
	{ID: "db", State: "stopped", ChildPID: 70000},
}

// legacyServerMain is the "legacyserver SOCKET" command of the scripts: it
// serves until SIGINT or SIGTERM, then removes the socket.
func legacyServerMain() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: legacyserver SOCKET")
		os.Exit(2)
	}
	ln, err := net.Listen("unix", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "legacyserver:", err)
		os.Exit(1)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() { <-sigs; ln.Close() }()
	fakeserver.Serve(ln, fakeserver.Frames(legacyAnswer))
	os.Exit(0)
}

// startLegacy serves a legacy server on a socket in a fresh short
// directory (socket paths are limited) until the test ends, and returns
// the socket's path.
func startLegacy(t *testing.T) string {
	t.Helper()
	sock := filepath.Join(fakeserver.SocketDir(t, "mgmtgen-legacy-"), "m.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	fakeserver.Start(t, ln, fakeserver.Frames(legacyAnswer))
	return sock
}

// legacyAnswer answers one request; false ends the connection.
func legacyAnswer(nc net.Conn, h ipc.Header, body []byte) bool {
	var req struct {
		ID string `msgpack:"id"`
	}
	_ = msgpack.Unmarshal(body, &req)
	switch h.MsgType {
	case 0xA0:
		return legacySend(nc, 0xA1, h.SeqNo, map[string]any{"entries": legacyEntries})
	case 0xA2:
		st := legacyStatus{Err: "cliwrap: process not found"}
		if req.ID == "web" {
			st = legacyStatus{Entry: legacyEntries[0]}
		}
		return legacySend(nc, 0xA3, h.SeqNo, st)
	case 0xA9:
		if req.ID == "hang" {
			var b [1]byte
			nc.Read(b[:]) // until the client goes
			return false
		}
		return legacySend(nc, 0xA3, h.SeqNo, legacyStatus{})
	case 0xA4:
		var lr legacyLogsReq
		_ = msgpack.Unmarshal(body, &lr)
		snap := legacyLogsFrame{ID: lr.ID, Stream: lr.Stream, Data: []byte("line one\nline \x00two\n"), EOF: !lr.Follow}
		if !legacySend(nc, 0xA5, 0, snap) || !lr.Follow {
			return !lr.Follow
		}
		var b [1]byte
		nc.Read(b[:])
		return false
	case 0xA6:
		legacySend(nc, 0xA7, 0, legacyEvent{ProcessID: "web", Type: "process.stopped", Timestamp: 1700000000000000000, Summary: "process.stopped web"})
		legacySend(nc, 0xA7, 0, legacyEvent{ProcessID: "web", Type: "process.started", Timestamp: 1700000001000000000, Summary: "process.started web"})
		return false
	}
	return legacySend(nc, 0xA3, h.SeqNo, legacyStatus{Err: fmt.Sprintf("unknown request type 0x%02x", uint8(h.MsgType))})
}

// legacySend writes one frame as cliwrap does: header, then payload.
func legacySend(nc net.Conn, t ipc.MsgType, seq uint64, v any) bool {
	body, err := msgpack.Marshal(v)
	if err != nil {
		panic(err)
	}
	hdr := ipc.AppendHeader(nil, ipc.Header{MsgType: t, SeqNo: seq, Length: uint32(len(body))})
	if _, err := nc.Write(hdr); err != nil {
		return false
	}
	_, err = nc.Write(body)
	return !errors.Is(err, net.ErrClosed) && err == nil
}

func dialUnix(path string) (net.Conn, error) { return net.DialTimeout("unix", path, time.Second) }
