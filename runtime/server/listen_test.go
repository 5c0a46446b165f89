package server_test

// The socket: a private bind linked into place, its permissions, live, stale and foreign files at
// its path, unsafe directories, a second user, accept backoff.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/internal/seconduser"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

// unstarted returns an unstarted server on path.
func unstarted(t *testing.T, path string) *server.Server {
	t.Helper()
	s, err := server.New(server.Options{SocketPath: path, Logger: newLogger(&logBuffer{})}, servertest.Table(&servertest.Handler{}))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// withUmask runs the rest of the test with umask mask.
func withUmask(t *testing.T, mask int) {
	old := syscall.Umask(mask)
	t.Cleanup(func() { syscall.Umask(old) })
}

// In a pre-existing directory that others may search but not write, the
// socket is bound in a private directory and linked into place: with umask
// 000 it still appears with mode 0600, nothing else is left behind, and a
// directory exactly as long as MaxSocketDirLen works.
func TestListenPrivateBind(t *testing.T) {
	leakCheck(t)
	open := t.TempDir()
	if err := os.Chmod(open, 0o755); err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	long := filepath.Join(base, strings.Repeat("d", server.MaxSocketDirLen-len(base)-1))
	withUmask(t, 0)
	for _, path := range []string{filepath.Join(open, "m.sock"), filepath.Join(long, "m.sock")} {
		srv, _ := startServer(t, server.Options{SocketPath: path}, nil)
		fi, err := os.Lstat(path)
		if err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, %v", path, fi.Mode(), err)
		}
		entries, err := os.ReadDir(filepath.Dir(path))
		if err != nil || len(entries) != 1 {
			t.Fatalf("%s: directory holds %v (%v), want the socket alone", path, entries, err)
		}
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatalf("dial %s: %v", path, err)
		}
		c.Close()
		if err := srv.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(path); !os.IsNotExist(err) {
			t.Errorf("%s left after Close: %v", path, err)
		}
	}
}

// A socket directory too long for the private bind name is refused: Start
// never binds at the final path, and says how long the directory may be.
func TestListenPathTooLong(t *testing.T) {
	leakCheck(t)
	base := t.TempDir()
	dir := filepath.Join(base, strings.Repeat("d", server.MaxSocketDirLen-len(base)))
	path := filepath.Join(dir, "m.sock")
	err := unstarted(t, path).Start()
	want := fmt.Sprintf("server: socket %s: path too long: its directory may be at most %d bytes long, this one is %d",
		path, server.MaxSocketDirLen, server.MaxSocketDirLen+1)
	if err == nil || err.Error() != want {
		t.Fatalf("Start: %v\nwant %s", err, want)
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Errorf("Start left %s behind: %v", dir, err)
	}
}

// Start refuses a socket directory another user could use to put their own
// socket at the path, naming the path and the reason, and creates nothing.
func TestListenUnsafeDirectory(t *testing.T) {
	leakCheck(t)
	root := os.Geteuid() == 0
	type setup func(t *testing.T, base string) (path, reason string)
	cases := []struct {
		name     string
		needRoot bool
		setup    setup
	}{
		{"world-writable", false, func(t *testing.T, base string) (string, string) {
			d := mkdir(t, filepath.Join(base, "open"), 0o777)
			return filepath.Join(d, "m.sock"), "directory " + d + " is writable by group or others (mode 0777) and not sticky"
		}},
		{"group-writable", false, func(t *testing.T, base string) (string, string) {
			d := mkdir(t, filepath.Join(base, "group"), 0o770)
			return filepath.Join(d, "m.sock"), "directory " + d + " is writable by group or others (mode 0770) and not sticky"
		}},
		{"sticky world-writable", false, func(t *testing.T, base string) (string, string) {
			d := mkdir(t, filepath.Join(base, "tmp"), 0o777|os.ModeSticky)
			return filepath.Join(d, "m.sock"), "directory " + d + " is writable by group or others (mode 0777): another user could replace the socket; make it 0700 or 0755"
		}},
		{"writable parent", false, func(t *testing.T, base string) (string, string) {
			p := mkdir(t, filepath.Join(base, "parent"), 0o777)
			d := mkdir(t, filepath.Join(p, "run"), 0o700)
			return filepath.Join(d, "m.sock"), "directory " + p + " is writable by group or others (mode 0777) and not sticky"
		}},
		{"another user's directory", true, func(t *testing.T, base string) (string, string) {
			d := mkdir(t, filepath.Join(base, "theirs"), 0o755)
			chown(t, d)
			return filepath.Join(d, "m.sock"), fmt.Sprintf("directory %s is owned by uid %d", d, seconduser.UID)
		}},
		{"another user's symlink", true, func(t *testing.T, base string) (string, string) {
			d := mkdir(t, filepath.Join(base, "mine"), 0o700)
			link := filepath.Join(base, "link")
			if err := os.Symlink(d, link); err != nil {
				t.Fatal(err)
			}
			chown(t, link)
			return filepath.Join(link, "m.sock"), fmt.Sprintf("%s is a symlink owned by uid %d", link, seconduser.UID)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.needRoot && !root {
				t.Skip("needs root to give a file to another user")
			}
			path, reason := c.setup(t, t.TempDir())
			err := unstarted(t, path).Start()
			want := "server: socket " + path + ": refusing an unsafe socket directory: " + reason
			if err == nil || err.Error() != want {
				t.Fatalf("Start: %v\nwant %s", err, want)
			}
			t.Logf("refused: %v", err)
			entries, _ := os.ReadDir(filepath.Dir(path))
			if len(entries) != 0 {
				t.Errorf("Start left %v in %s", entries, filepath.Dir(path))
			}
		})
	}
	// A symlink of the server's own, to a safe directory, is fine.
	base := t.TempDir()
	d := mkdir(t, filepath.Join(base, "real"), 0o700)
	if err := os.Symlink(d, filepath.Join(base, "link")); err != nil {
		t.Fatal(err)
	}
	startServer(t, server.Options{SocketPath: filepath.Join(base, "link", "m.sock")}, nil)
}

func mkdir(t *testing.T, d string, mode os.FileMode) string {
	t.Helper()
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d, mode); err != nil {
		t.Fatal(err)
	}
	return d
}

func chown(t *testing.T, name string) {
	t.Helper()
	if err := os.Lchown(name, seconduser.UID, seconduser.GID); err != nil {
		t.Fatal(err)
	}
}

// The second user cannot move the socket aside and listen in its place, in
// a directory it may search.
func TestListenSecondUserCannotReplace(t *testing.T) {
	leakCheck(t)
	dir := filepath.Join(t.TempDir(), "run")
	path := filepath.Join(dir, "m.sock")
	startServer(t, server.Options{SocketPath: path}, nil)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	seconduser.OpenDirs(t, path)
	out, err := seconduser.Command(t, "TestSecondUserHelper", "replace", "SOCK="+path).CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	for _, want := range []string{"rename: permission denied", "listen: permission denied"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("second user: want %q in\n%s", want, out)
		}
	}
	c := dialRaw(t, path)
	c.sendMsg(servertest.MsgEcho, 1, &servertest.EchoRequest{ID: "still mine"})
	if r := c.echo(1); r.ID != "still mine" {
		t.Errorf("the server at its path answered %+v", r)
	}
}

// With umask 000, the second user dials the socket path as fast as it can
// while the server starts and stops 200 times: it never connects.
func TestListenUmaskWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	leakCheck(t)
	dir := filepath.Join(t.TempDir(), "run")
	path := filepath.Join(dir, "m.sock")
	mkdir(t, dir, 0o755)
	withUmask(t, 0)
	seconduser.OpenDirs(t, path)
	cmd := seconduser.Command(t, "TestSecondUserHelper", "dialloop", "SOCK="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	for lines.Scan() && lines.Text() != "dialing" {
	}
	if lines.Text() != "dialing" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper did not start: %q", lines.Text())
	}
	const starts = 200
	for range starts {
		s := unstarted(t, path)
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	stdin.Close()
	var attempts, connects, denied int
	var rest strings.Builder
	for lines.Scan() {
		if n, _ := fmt.Sscanf(lines.Text(), "attempts %d connects %d denied %d", &attempts, &connects, &denied); n != 3 {
			rest.WriteString(lines.Text() + "\n")
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v\n%s", err, rest.String())
	}
	t.Logf("%d starts with umask 000: the second user dialled %d times, connected %d times, was denied %d times", starts, attempts, connects, denied)
	if connects != 0 {
		t.Errorf("the second user connected %d times", connects)
	}
	if denied == 0 {
		t.Errorf("the second user never found the socket in %d attempts: the test proves nothing", attempts)
	}
}

// TestSecondUserHelper is the second user's part of the tests above and of
// TestAuthorizeSecondUser.
func TestSecondUserHelper(t *testing.T) {
	path := os.Getenv("SOCK")
	switch seconduser.Mode() {
	case "":
		t.Skip("the second user's part of other tests")
	case "replace":
		if err := os.Rename(path, path+".moved"); err != nil {
			fmt.Println("rename:", errors.Unwrap(err.(*os.LinkError)))
		}
		if l, err := net.Listen("unix", path+".2"); err != nil {
			fmt.Println("listen:", errors.Unwrap(errors.Unwrap(err)))
		} else {
			l.Close()
		}
	case "echo":
		nc, err := net.Dial("unix", path)
		if err != nil {
			fmt.Println("dial:", errors.Unwrap(errors.Unwrap(err)))
			return
		}
		defer nc.Close()
		nc.Write(seedFrame(servertest.MsgEcho, 1, &servertest.EchoRequest{ID: "theirs"}))
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, _, err := ipc.NewFrameReader(nc, 0).ReadFrame(); err != nil {
			fmt.Println("read:", err)
		} else {
			fmt.Println("served")
		}
	case "access":
		accessAsSecondUser(path)
	case "dialloop":
		fmt.Println("dialing")
		stop := make(chan struct{})
		go func() { io.Copy(io.Discard, os.Stdin); close(stop) }()
		var attempts, connects, denied int
		for {
			select {
			case <-stop:
				fmt.Printf("attempts %d connects %d denied %d\n", attempts, connects, denied)
				return
			default:
			}
			attempts++
			c, err := net.DialTimeout("unix", path, time.Second)
			switch {
			case err == nil:
				connects++
				c.Close()
			case errors.Is(err, syscall.EACCES):
				denied++
			}
		}
	}
}

// Start creates the socket's missing directories 0700 and the socket
// 0600.
func TestSocketPermissions(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{SocketPath: filepath.Join(t.TempDir(), "run", "procd", "m.sock")}, nil)
	for _, d := range []string{filepath.Dir(path), filepath.Dir(filepath.Dir(path))} {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o700 {
			t.Errorf("directory %s: mode %v, want 0700", d, got)
		}
	}
	dir, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if got := dir.Mode().Perm(); got != 0o700 {
		t.Errorf("directory mode %v, want 0700", got)
	}
	sock, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := sock.Mode().Perm(); got != 0o600 || sock.Mode().Type() != os.ModeSocket {
		t.Errorf("socket mode %v, want a 0600 socket", sock.Mode())
	}
}

// A second server at a live server's path is refused with an error naming
// the path; the first keeps its socket and serves its connections and new
// ones.
func TestLiveSocketRefused(t *testing.T) {
	leakCheck(t)
	_, path := startServer(t, server.Options{}, nil)
	before := dialRaw(t, path)
	s2, err := server.New(server.Options{SocketPath: path, Logger: newLogger(&logBuffer{})}, servertest.Table(&servertest.Handler{}))
	if err != nil {
		t.Fatal(err)
	}
	err = s2.Start()
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "live server") {
		t.Fatalf("second Start: %v, want a live-server error naming %s", err, path)
	}
	if err := s2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("live socket file gone after the refused Start: %v", err)
	}
	// The first server still answers, on its connection and its socket.
	before.list(1)
	dialRaw(t, path).list(1)
}

func TestStaleSocketReplaced(t *testing.T) {
	leakCheck(t)
	path := filepath.Join(t.TempDir(), "stale.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close() // the file stays, nobody answers
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("stale socket not left behind: %v", err)
	}
	_, path = startServer(t, server.Options{SocketPath: path}, nil)
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("new socket: %v, %v; want mode 0600", fi, err)
	}
	c := dialRaw(t, path)
	c.send(servertest.MsgList, 1, nil)
	c.echo(1)
}

// A regular file or a symlink at the socket path is refused and left
// untouched; in a directory that already exists with looser permissions
// (0755, left as it is), the socket is still 0600.
func TestNonSocketRefused(t *testing.T) {
	leakCheck(t)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "file")
	if err := os.WriteFile(path, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.sock")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, link} {
		s, err := server.New(server.Options{SocketPath: p}, servertest.Table(&servertest.Handler{}))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err == nil || !strings.Contains(err.Error(), "not a socket") {
			t.Errorf("Start on %s: %v, want a not-a-socket error", filepath.Base(p), err)
		}
		s.Close(context.Background())
	}
	if b, _ := os.ReadFile(path); string(b) != "keep" {
		t.Fatal("Start clobbered a regular file")
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode().Type() != os.ModeSymlink {
		t.Errorf("symlink after the refused Start: %v, %v", fi, err)
	}
	_, sock := startServer(t, server.Options{SocketPath: filepath.Join(dir, "m.sock")}, nil)
	if fi, err := os.Lstat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket in a pre-existing 0755 directory: %v, %v; want mode 0600", fi, err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o755 {
		t.Errorf("pre-existing directory changed to %v", fi.Mode().Perm())
	}
}

// flakyListener fails its first Accept calls with a temporary error.
type flakyListener struct {
	net.Listener
	fails atomic.Int32
}

// Serve takes a listener of the caller's; temporary accept errors are
// retried with backoff and logged; Close ends Serve with ErrServerClosed.
func TestAcceptBackoff(t *testing.T) {
	leakCheck(t)
	path := filepath.Join(t.TempDir(), "flaky.sock")
	inner, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	l := &flakyListener{Listener: inner}
	l.fails.Store(3)
	var logs logBuffer
	s, err := server.New(server.Options{Logger: newLogger(&logs)}, servertest.Table(&servertest.Handler{}))
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	c := dialRaw(t, path)
	c.send(servertest.MsgList, 1, nil)
	c.echo(1)
	if n := strings.Count(logs.String(), "accept failed; retrying"); n != 3 {
		t.Errorf("%d retries logged, want 3:\n%s", n, logs.String())
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, server.ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
}

func TestStartWithoutPath(t *testing.T) {
	s, err := server.New(server.Options{}, servertest.Table(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err == nil {
		t.Fatal("Start without a socket path succeeded")
	}
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.fails.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "unix", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}
