package mgmt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server"
)

func TestSecurityPermissions(t *testing.T) {
	noLeaks(t)
	_, path, _ := hStart(t, mgmt.ServerOptions{})
	for _, c := range []struct {
		path string
		want os.FileMode
	}{{filepath.Dir(path), 0o700}, {path, 0o600}} {
		fi, err := os.Lstat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != c.want {
			t.Errorf("%s: mode %v, want %v", c.path, got, c.want)
		}
	}
}

const nobody = 65534

// nobodyCmd re-executes a copy of the test binary, readable by all, in helper
// mode "dial" as uid/gid 65534; it skips where that is impossible.
func nobodyCmd(t *testing.T, path string, asNobody bool) *exec.Cmd {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skipf("running as uid %d: cannot start a child as another user", os.Getuid())
	}
	bin, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Skipf("cannot copy the test binary: %v", err)
	}
	dir, err := os.MkdirTemp("", "mgmt-harden-bin")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	exe := filepath.Join(dir, "mgmt.test")
	if err := os.WriteFile(exe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	cmd := exec.Command(exe, "-test.run=^TestHardenHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), envHelper+"=dial", envSocket+"="+path)
	cmd.Dir = dir
	if asNobody {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	}
	return cmd
}

// openPath makes every directory above path searchable and the socket
// connectable by others, so that only Authorize stands in the way.
func openPath(t *testing.T, path string) {
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	for d := filepath.Dir(path); d != "/" && d != "."; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o005 != 0o005 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o005); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestSecurityOtherUID: the default permissions keep another user out, and
// with the path opened up, an Authorize hook for the same uid refuses a
// connection from uid 65534 while the server's own uid is served.
func TestSecurityOtherUID(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	noLeaks(t)
	uid := uint32(os.Getuid())
	auth := func(_ context.Context, p server.PeerCred) error {
		if p.UID != uid {
			return fmt.Errorf("uid %d is not the server's uid %d", p.UID, uid)
		}
		return nil
	}
	_, path, logs := hStart(t, mgmt.ServerOptions{Authorize: auth})

	out, err := nobodyCmd(t, path, true).CombinedOutput()
	if err == nil || !bytes.Contains(out, []byte("permission denied")) {
		t.Errorf("uid %d through a 0700 directory: %v\n%s", nobody, err, out)
	}

	openPath(t, path)
	out, err = nobodyCmd(t, path, true).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 4 || bytes.Contains(out, []byte("served")) {
		t.Fatalf("uid %d with Authorize: %v\n%s", nobody, err, out)
	}
	if !strings.Contains(logs.String(), "refused by Authorize") || !strings.Contains(logs.String(), "uid=65534") {
		t.Errorf("refusal not logged:\n%s", logs)
	}
	t.Logf("uid %d refused: %s", nobody, bytes.TrimSpace(out))

	out, err = nobodyCmd(t, path, false).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("served")) {
		t.Fatalf("same uid: %v\n%s", err, out)
	}
}

// TestSecurityBoundedErrorEcho: error responses never carry more than a
// bounded prefix of untrusted input, whatever the request holds.
func TestSecurityBoundedErrorEcho(t *testing.T) {
	noLeaks(t)
	_, path, _ := hStart(t, mgmt.ServerOptions{})
	c := hDial(t, path)
	huge := strings.Repeat("A", 1<<20)
	mapOf := func(key string, value []byte) []byte {
		b := msgp.AppendMapHeader(nil, 1)
		b = msgp.AppendString(b, key)
		return append(b, value...)
	}
	cases := []struct {
		name string
		t    ipc.MsgType
		body []byte
	}{
		{"huge unknown key, bad value", mgmt.MsgStatusRequest, mapOf(huge, []byte{0xc1})},
		{"huge id over max_len", mgmt.MsgStatusRequest, mapOf("id", msgp.AppendString(nil, huge))},
		{"huge bin as id", mgmt.MsgStopRequest, mapOf("id", msgp.AppendBytes(nil, []byte(huge)))},
		{"huge string as stream", mgmt.MsgLogsRequest, mapOf("s", msgp.AppendString(nil, huge))},
		{"huge trailing bytes", mgmt.MsgStartRequest, append(mapOf("id", msgp.AppendString(nil, "a")), huge...)},
		{"huge payload, unknown type", 0xB7, []byte(huge)},
		{"huge key as map key type", mgmt.MsgStatusRequest, append(msgp.AppendMapHeader(nil, 1), msgp.AppendBytes(nil, []byte(huge))...)},
	}
	for i, cs := range cases {
		seq := uint64(i + 1)
		c.write(hFrame(cs.t, seq, cs.body))
		p := c.status(seq)
		if p.Err == "" {
			t.Errorf("%s: no error", cs.name)
		}
		if len(p.Err) > 256 || strings.Contains(p.Err, "AAAAAAAA") {
			t.Errorf("%s: Err echoes input (%d bytes): %.100q", cs.name, len(p.Err), p.Err)
		}
		t.Logf("%s: Err %q", cs.name, p.Err)
	}
	// The generated glue copies a handler error into Err as it is; a
	// handler quoting an id is bounded by the id's max_len (4096).
	long := strings.Repeat("B", 4097)
	c.write(hMsgFrame(mgmt.MsgStatusRequest, 100, &mgmt.StatusRequestPayload{ID: long}))
	if p := c.status(100); len(p.Err) > 256 {
		t.Errorf("id over max_len: Err of %d bytes", len(p.Err))
	}
}

// TestSecurityExistingDirAndPath: in a directory that already exists with
// looser permissions, the socket is still 0600 (the directory is left as
// it is: documented); a regular file or a symlink at the socket path is
// refused and left untouched; a stale socket is replaced.
func TestSecurityExistingDirAndPath(t *testing.T) {
	noLeaks(t)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	_, path, _ := hStart(t, mgmt.ServerOptions{SocketPath: filepath.Join(dir, "mgmt.sock")})
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	di, _ := os.Stat(dir)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("socket in a pre-existing directory: mode %v, want 0600", fi.Mode().Perm())
	}
	t.Logf("pre-existing directory left at %v, socket %v", di.Mode().Perm(), fi.Mode().Perm())

	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.sock")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{target, link} {
		srv, err := mgmt.NewServer(mgmt.ServerOptions{SocketPath: p, Handler: newHHandler()})
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(); err == nil || !strings.Contains(err.Error(), "not a socket") {
			t.Errorf("Start on %s: %v, want a not-a-socket error", filepath.Base(p), err)
		}
		srv.Close(context.Background())
	}
	if b, err := os.ReadFile(target); err != nil || string(b) != "keep" {
		t.Errorf("target touched: %q %v", b, err)
	}
	if _, err := os.Lstat(link); err != nil {
		t.Errorf("symlink removed: %v", err)
	}

	stale := filepath.Join(dir, "stale.sock")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	_, _, _ = hStart(t, mgmt.ServerOptions{SocketPath: stale})
	hDial(t, stale).list(1)
}
