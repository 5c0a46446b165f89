package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/internal/fakeserver"
	"github.com/mgmtgen/mgmtgen/internal/seconduser"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/status"
)

// fakeManager is a hostile manager: answer decides, frame by frame, what
// each request gets (nothing, a frame, half a frame, a stall).
type fakeManager struct {
	socket string
}

// startFake listens at dir/manager.sock and serves every connection with
// serve until the test ends.
func startFake(t *testing.T, serve func(nc net.Conn, h ipc.Header, body []byte) bool) *fakeManager {
	t.Helper()
	m := &fakeManager{socket: filepath.Join(shortDir(t), "manager.sock")}
	ln, err := net.Listen("unix", m.socket)
	if err != nil {
		t.Fatal(err)
	}
	fakeserver.Start(t, ln, fakeserver.Frames(func(nc net.Conn, h ipc.Header, body []byte) bool {
		if h.MsgType == ipc.MsgHello {
			// As a cliwrap manager answers the client's hello: an unknown
			// request type (the client falls back).
			return send(nc, h, mgmt.MsgStatusResponse, &mgmt.StatusResponsePayload{Err: "unknown request type 0xf0"})
		}
		return serve(nc, h, body)
	}))
	return m
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// send writes one frame answering h.
func send(nc net.Conn, h ipc.Header, t ipc.MsgType, m msgp.Marshaler) bool {
	frame, err := ipc.AppendMsgFrame(nil, ipc.Header{MsgType: t, SeqNo: h.SeqNo}, m)
	if err != nil {
		panic(err)
	}
	_, err = nc.Write(frame)
	return err == nil
}

// Terminal attacks the issue found: a window title, clear screen, hide
// cursor, a C1 CSI, an OSC 52 clipboard write, bidi override, invalid UTF-8.
const (
	title   = "\x1b]0;pwned\x07"
	clear   = "\x1b[2J"
	hide    = "\x1b[?25l"
	csi     = "\u009b31m"
	osc52   = "\x1b]52;c;aGVsbG8=\x07"
	bidi    = "\u202egnp.exe"
	badUTF8 = "\xff\xfe"
)

// hostileText holds a byte a terminal acts on.
func hostileText(s string) bool {
	return strings.ContainsAny(s, "\x1b\x07\x9b\u202e\r") || strings.Contains(s, "\u009b") || !isValidUTF8(s)
}

func isValidUTF8(s string) bool { return strings.ToValidUTF8(s, "") == s }

// No text from the manager reaches the terminal unescaped: list, status,
// status's error text, events, stop's report; --json escapes as JSON does.
func TestEscapesManagerText(t *testing.T) {
	evil := &mgmt.ListEntry{ID: "web" + title, Name: clear + "name" + hide, State: "running" + csi + bidi + badUTF8, ChildPID: 42}
	m := startFake(t, func(nc net.Conn, h ipc.Header, body []byte) bool {
		switch h.MsgType {
		case mgmt.MsgListRequest:
			return send(nc, h, mgmt.MsgListResponse, &mgmt.ListResponsePayload{Entries: []mgmt.ListEntry{*evil}})
		case mgmt.MsgStatusRequest:
			var req mgmt.StatusRequestPayload
			ipc.DecodePayload(body, &req)
			if req.ID == "bad" {
				return send(nc, h, mgmt.MsgStatusResponse, &mgmt.StatusResponsePayload{Err: "no such process" + osc52})
			}
			return send(nc, h, mgmt.MsgStatusResponse, &mgmt.StatusResponsePayload{Entry: *evil})
		case mgmt.MsgStopRequest:
			return send(nc, h, mgmt.MsgStatusResponse, &mgmt.StatusResponsePayload{Entry: *evil})
		case mgmt.MsgEventsSubscribe:
			send(nc, h, mgmt.MsgEventsStream, &mgmt.EventsStreamPayload{ProcessID: evil.ID, Type: "process.started" + clear, Summary: "summary" + osc52})
			return false
		}
		return false
	})
	sock := []string{"--socket", m.socket}
	for _, tc := range []struct {
		args []string
		want string // escaped text expected in stdout+stderr
	}{
		{[]string{"list"}, `web\x1b]0;pwned\x07`},
		{[]string{"status", "web"}, `\x1b[2Jname\x1b[?25l`},
		{[]string{"status", "bad"}, `no such process\x1b]52;c;aGVsbG8=\x07`},
		{[]string{"stop", "web"}, `running\u009b31m\u202egnp.exe\xff\xfe`},
		{[]string{"events"}, `summary\x1b]52;c;aGVsbG8=\x07`},
		{[]string{"status", "web" + title}, `web\x1b]0;pwned\x07`},
	} {
		r := ctl(t, append(sock, tc.args...)...)
		out := r.stdout + r.stderr
		if hostileText(out) {
			t.Errorf("mgmtctl %q passed terminal controls through:\n%q", tc.args, out)
		}
		if !strings.Contains(out, tc.want) {
			t.Errorf("mgmtctl %q: want %s in\n%s", tc.args, tc.want, out)
		}
	}
	r := ctlOK(t, append(sock, "list", "--json")...)
	if hostileText(r.stdout) || !strings.Contains(r.stdout, `web\u001b]0;pwned\u0007`) || !strings.Contains(r.stdout, `running\u009b31m\u202egnp.exe`) {
		t.Errorf("list --json: %s", r.stdout)
	}
}

// The escaping itself: printable text as is, everything else as Go escapes.
func TestEsc(t *testing.T) {
	for in, want := range map[string]string{
		"plain id-1 with spaces": "plain id-1 with spaces",
		"héllo wörld ✓":          "héllo wörld ✓",
		"a\\b":                   `a\\b`,
		"tab\there\nline\r":      `tab\there\nline\r`,
		"\x00\x1b\x7f":           `\x00\x1b\x7f`,
		"\u0085\u009b\u200b":     `\u0085\u009b\u200b`,
		"\u202e\u2066":           `\u202e\u2066`,
		"\xff\xc3":               `\xff\xc3`,
	} {
		if got := esc(in); got != want {
			t.Errorf("esc(%q) = %s, want %s", in, got, want)
		}
	}
}

// logs prints the process's bytes as they are: that is its job.
func TestLogsBytesAsTheyAre(t *testing.T) {
	data := []byte("color \x1b[31mred\x1b[0m \xff\n")
	m := startFake(t, func(nc net.Conn, h ipc.Header, body []byte) bool {
		switch h.MsgType {
		case mgmt.MsgStatusRequest:
			return send(nc, h, mgmt.MsgStatusResponse, &mgmt.StatusResponsePayload{Entry: mgmt.ListEntry{ID: "web"}})
		case mgmt.MsgLogsRequest:
			send(nc, h, mgmt.MsgLogsStream, &mgmt.LogsStreamPayload{Data: data, EOF: true})
		}
		return false
	})
	r := ctlOK(t, "--socket", m.socket, "logs", "--stream", "stdout", "web")
	if r.stdout != string(data) {
		t.Errorf("logs printed %q, want %q", r.stdout, data)
	}
}

// --timeout bounds what a manager can stall: a snapshot never sent (with
// and without -f), a response stopped in the middle of its frame, a status
// before logs never answered.
func TestTimeoutHolds(t *testing.T) {
	const timeout = 300 * time.Millisecond
	stall := make(chan struct{})
	m := startFake(t, func(nc net.Conn, h ipc.Header, body []byte) bool {
		switch h.MsgType {
		case mgmt.MsgStatusRequest:
			var req mgmt.StatusRequestPayload
			ipc.DecodePayload(body, &req)
			if req.ID == "mute" {
				<-stall
				return false
			}
			return send(nc, h, mgmt.MsgStatusResponse, &mgmt.StatusResponsePayload{Entry: mgmt.ListEntry{ID: req.ID}})
		case mgmt.MsgListRequest: // half a frame, then nothing
			frame, _ := ipc.AppendMsgFrame(nil, ipc.Header{MsgType: mgmt.MsgListResponse, SeqNo: h.SeqNo},
				&mgmt.ListResponsePayload{Entries: []mgmt.ListEntry{{ID: "web", Name: strings.Repeat("x", 100)}}})
			nc.Write(frame[:ipc.HeaderSize+10])
		case mgmt.MsgStopRequest: // the header alone
			frame, _ := ipc.AppendMsgFrame(nil, ipc.Header{MsgType: mgmt.MsgStatusResponse, SeqNo: h.SeqNo}, &mgmt.StatusResponsePayload{})
			nc.Write(frame[:ipc.HeaderSize])
		}
		<-stall // the snapshot never comes
		return false
	})
	t.Cleanup(func() { close(stall) }) // before startFake's cleanup waits for its handlers
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"logs", "web"}, "mgmtctl: logs web: the manager at %s sent no snapshot within 300ms (--timeout)\n"},
		{[]string{"logs", "-f", "web"}, "mgmtctl: logs web: the manager at %s sent no snapshot within 300ms (--timeout)\n"},
		{[]string{"list"}, "mgmtctl: list: no answer from the manager at %s within 300ms (--timeout)\n"},
		{[]string{"status", "mute"}, "mgmtctl: status mute: no answer from the manager at %s within 300ms (--timeout)\n"},
		{[]string{"logs", "mute"}, "mgmtctl: logs mute: no answer from the manager at %s within 300ms (--timeout)\n"},
		{[]string{"stop", "web"}, "mgmtctl: stop web: no answer from the manager at %s within 300ms (--timeout)\n"},
	} {
		start := time.Now()
		r := ctl(t, append([]string{"--socket", m.socket, "--timeout", timeout.String()}, tc.args...)...)
		took := time.Since(start)
		want := fmt.Sprintf(tc.msg, m.socket)
		if r.code != 64+int(status.DeadlineExceeded) || r.stderr != want {
			t.Errorf("%q: %v\nwant exit 68 (DeadlineExceeded), stderr %q", tc.args, r, want)
		}
		t.Logf("%q with --timeout %v: ended after %v", tc.args, timeout, took.Round(time.Millisecond))
		if took > timeout+5*time.Second {
			t.Errorf("%q took %v with --timeout %v", tc.args, took, timeout)
		}
	}
}

// A manager that closes without answering (as an idle timeout or a
// shutdown does) or resets the connection gets a message saying so, naming
// the path the user gave, never the address the server bound.
func TestClosedWithoutAnswer(t *testing.T) {
	m := startFake(t, func(nc net.Conn, h ipc.Header, body []byte) bool { return false })
	r := ctl(t, "--socket", m.socket, "list")
	want := fmt.Sprintf("mgmtctl: list: the manager at %s closed the connection without answering (it closes connections idle for too long, and all of them when it shuts down)\n", m.socket)
	if r.code != 1 || r.stderr != want {
		t.Errorf("%v\nwant stderr %q", r, want)
	}
}

// A manager at its connection limit: mgmtctl says the manager is full.
func TestManagerFull(t *testing.T) {
	path := filepath.Join(shortDir(t), "run", "manager.sock")
	srv, err := mgmt.NewServer(mgmt.ServerOptions{SocketPath: path, Handler: mgmt.UnimplementedHandler{}, MaxConns: 1, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Close(ctx)
	})
	hold, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	// The held connection is registered once it is answered.
	frame, _ := ipc.AppendFrame(nil, ipc.Header{MsgType: mgmt.MsgListRequest, SeqNo: 1}, nil)
	hold.Write(frame)
	if _, _, err := ipc.NewFrameReader(hold, 0).ReadFrame(); err != nil {
		t.Fatal(err)
	}
	r := ctl(t, "--socket", path, "list")
	want := fmt.Sprintf("mgmtctl: the manager at %s is full: 1 connections open, the most this server accepts; try again later\n", path)
	if r.code != 72 || r.stderr != want { // ResourceExhausted
		t.Errorf("%v\nwant stderr %q", r, want)
	}
	if strings.Contains(r.stderr, ".bind-") {
		t.Errorf("the message names the server's private bind path: %s", r.stderr)
	}
}

// A socket another user could have put there is refused before connecting:
// uid 65534 makes a directory in a sticky world-writable one (as /tmp is)
// and listens in it, as the impostor did at the old default path.
func TestRefusesAnotherUsersSocket(t *testing.T) {
	tmp := shortDir(t)
	if err := os.Chmod(tmp, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(tmp, "procd-0")
	path := filepath.Join(dir, "manager.sock")
	cmd := seconduser.Command(t, "TestSecondUserHelper", "listen", "DIR="+dir, "SOCK="+path)
	stdin, _ := cmd.StdinPipe()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	eventually(t, func() bool { _, err := os.Stat(path); return err == nil }, func() string { return "the second user never listened:\n" + out.String() })

	r := ctl(t, "--socket", path, "list")
	want := fmt.Sprintf("mgmtctl: refusing %s: directory %s is owned by uid 65534 (--server-uid trusts another user)\n", path, dir)
	if r.code != 1 || r.stderr != want {
		t.Errorf("%v\nwant stderr %q", r, want)
	}
	// The socket file alone, in a directory of ours: refused as well.
	mine := filepath.Join(shortDir(t), "manager.sock")
	if err := os.Link(path, mine); err != nil {
		t.Fatal(err)
	}
	r = ctl(t, "--socket", mine, "list")
	want = fmt.Sprintf("mgmtctl: refusing %s: %s belongs to uid 65534 (--server-uid trusts another user)\n", mine, mine)
	if r.code != 1 || r.stderr != want {
		t.Errorf("%v\nwant stderr %q", r, want)
	}
	// Trusting that user lets mgmtctl talk to it.
	r = ctl(t, "--socket", path, "--server-uid", "65534", "list")
	if strings.Contains(r.stderr, "refusing /") {
		t.Errorf("--server-uid 65534: %v", r)
	}
}

// TestSecondUserHelper is the second user's part of the tests above.
func TestSecondUserHelper(t *testing.T) {
	switch seconduser.Mode() {
	case "":
		t.Skip("the second user's part of other tests")
	case "listen":
		if err := os.Mkdir(os.Getenv("DIR"), 0o755); err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("unix", os.Getenv("SOCK"))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		os.Chmod(os.Getenv("SOCK"), 0o777)
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		var b [1]byte
		os.Stdin.Read(b[:])
	}
}
