package server_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/internal/seconduser"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

// TestAccessPolicy: a level is held by its uids and by members of its
// groups (primary, or supplementary as the context carries them); root and
// the server's own user hold every level; a level nobody was given, or an
// unknown one, is held by them alone.
func TestAccessPolicy(t *testing.T) {
	p := server.AccessPolicy{
		"read":  {UIDs: []uint32{1001}, GIDs: []uint32{50}},
		"admin": {UIDs: []uint32{1002}},
	}
	self := uint32(os.Geteuid())
	for _, tc := range []struct {
		peer   server.PeerCred
		groups []uint32
		level  string
		want   bool
	}{
		{server.PeerCred{UID: 1001, GID: 1001}, nil, "read", true},
		{server.PeerCred{UID: 1001, GID: 1001}, nil, "admin", false},
		{server.PeerCred{UID: 1003, GID: 50}, nil, "read", true},
		{server.PeerCred{UID: 1003, GID: 1003}, []uint32{7, 50}, "read", true},
		{server.PeerCred{UID: 1003, GID: 1003}, []uint32{7}, "read", false},
		{server.PeerCred{UID: 1002, GID: 1002}, nil, "admin", true},
		{server.PeerCred{UID: 1002, GID: 1002}, nil, "read", false},
		{server.PeerCred{UID: 0, GID: 0}, nil, "admin", true},
		{server.PeerCred{UID: 0, GID: 0}, nil, "unknown", true},
		{server.PeerCred{UID: self, GID: 9}, nil, "admin", true},
		{server.PeerCred{UID: 1001, GID: 50}, nil, "unknown", self == 1001},
	} {
		ctx := server.WithPeerGroupsForTest(context.Background(), tc.groups)
		if got := p.Allow(ctx, tc.peer, tc.level); got != tc.want {
			t.Errorf("Allow(%+v, groups %v, %q) = %v, want %v", tc.peer, tc.groups, tc.level, got, tc.want)
		}
	}
	ctx := server.WithPeerGroupsForTest(context.Background(), []uint32{50})
	if got := p.Levels(ctx, server.PeerCred{UID: 1002, GID: 1002}); strings.Join(got, ",") != "admin,read" {
		t.Errorf("Levels = %v", got)
	}
}

// TestAccessSecondUser: a peer running as uid 65534, which holds read but
// not write, gets its List answered, its Echo (write) refused with the
// error response naming the call, the level and the uid, and its
// connection kept: the List after the refusal is answered too. The
// refusal is logged. This process (root) is allowed everything.
func TestAccessSecondUser(t *testing.T) {
	leakCheck(t)
	var logs logBuffer
	policy := server.AccessPolicy{servertest.AccessRead: {UIDs: []uint32{seconduser.UID}}}
	dir := t.TempDir()
	_, path := startServer(t, server.Options{SocketPath: dir + "/run/a.sock", Access: policy.Allow, Logger: newLogger(&logs)}, nil)
	seconduser.OpenDirs(t, path)
	if err := os.Chmod(path, 0o666); err != nil { // the test lets the other user connect
		t.Fatal(err)
	}
	out, err := seconduser.Command(t, "TestSecondUserHelper", "access", "SOCK="+path).CombinedOutput()
	if err != nil {
		t.Fatalf("second user: %v\n%s", err, out)
	}
	want := "list: 42\n" +
		"echo: permission denied: Echo needs write access, which uid 65534 (gid 65534) does not have\n" +
		"list: 42\n"
	if got := helperLines(string(out)); got != want {
		t.Errorf("second user saw\n%s\nwant\n%s", got, want)
	}
	if l := logs.String(); !strings.Contains(l, `msg="server: call refused: no access" protocol=test method=Echo access=write uid=65534 gid=65534`) {
		t.Errorf("refusal not logged:\n%s", l)
	}
	c := dialRaw(t, path) // root: every level
	c.sendMsg(servertest.MsgEcho, 1, &servertest.EchoRequest{ID: "root"})
	if resp := c.echo(1); resp.ID != "root" {
		t.Errorf("root's Echo: %+v", resp)
	}
}

// accessAsSecondUser is the second user's part of TestAccessSecondUser.
func accessAsSecondUser(path string) {
	c, err := dialPlain(path)
	if err != nil {
		fmt.Println("dial:", err)
		return
	}
	defer c.Close()
	for seq, call := range []string{"list", "echo", "list"} {
		t := servertest.MsgList
		var payload []byte
		if call == "echo" {
			t = servertest.MsgEcho
			payload, _ = (&servertest.EchoRequest{ID: "x"}).MarshalMsg(nil)
		}
		h, body, err := c.call(t, uint64(seq+1), payload)
		switch {
		case err != nil:
			fmt.Printf("%s: %v\n", call, err)
		case h.MsgType == servertest.MsgStatus:
			var st servertest.Status
			st.UnmarshalMsg(body)
			fmt.Printf("%s: %s\n", call, st.Err)
		default:
			var resp servertest.EchoResponse
			resp.UnmarshalMsg(body)
			fmt.Printf("%s: %d\n", call, resp.N)
		}
	}
}

// plainConn is a connection for a helper process, which has no testing.T
// of its own to fail.
type plainConn struct {
	nc net.Conn
	fr *ipc.FrameReader
}

func dialPlain(path string) (*plainConn, error) {
	nc, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &plainConn{nc: nc, fr: ipc.NewFrameReader(nc, 0)}, nil
}

func (c *plainConn) Close() error { return c.nc.Close() }

// call sends one request and reads one frame, within 5 s.
func (c *plainConn) call(t ipc.MsgType, seq uint64, payload []byte) (ipc.Header, []byte, error) {
	frame, err := ipc.AppendFrame(nil, ipc.Header{MsgType: t, SeqNo: seq}, payload)
	if err != nil {
		return ipc.Header{}, nil, err
	}
	c.nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.nc.Write(frame); err != nil {
		return ipc.Header{}, nil, err
	}
	return c.fr.ReadFrame()
}

// helperLines drops the test framework's lines from a helper's output.
func helperLines(out string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(out, "\n") {
		if strings.HasPrefix(l, "list: ") || strings.HasPrefix(l, "echo: ") || strings.HasPrefix(l, "dial: ") {
			b.WriteString(l)
		}
	}
	return b.String()
}
