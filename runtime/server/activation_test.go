package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

// envActivationChild makes TestActivationChild act: the test binary is
// re-executed through sh, which sets LISTEN_PID to its own pid and execs
// it, as a service manager sets it after fork.
const envActivationChild = "MGMTGEN_ACTIVATION_CHILD"

// TestActivationChild is the activated process of the tests below: it takes
// its listeners (the names in ACTIVATION_NAMES), reports the result and,
// when asked to serve, serves the test protocol until its stdin closes.
func TestActivationChild(t *testing.T) {
	mode := os.Getenv(envActivationChild)
	if mode == "" {
		t.Skip("the activated child of the socket-activation tests")
	}
	var names []string
	if n := os.Getenv("ACTIVATION_NAMES"); n != "" {
		names = strings.Split(n, ",")
	}
	ls, err := server.ActivationListeners(names...)
	for _, v := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		if val, ok := os.LookupEnv(v); ok {
			fmt.Printf("STILL SET %s=%s\n", v, val)
		}
	}
	// Every passed descriptor is ours now, held or closed: none is left
	// open at its old number for a child to inherit.
	for fd := 3; fd < 3+2; fd++ {
		if flags, err := unixFcntl(fd); err == nil && flags&syscall.FD_CLOEXEC == 0 {
			fmt.Printf("FD %d INHERITABLE\n", fd)
		}
	}
	if err != nil {
		fmt.Printf("RESULT error: %v\n", err)
		return
	}
	var addrs []string
	for _, l := range ls {
		addrs = append(addrs, filepath.Base(l.Addr().String()))
	}
	fmt.Printf("RESULT ok: %s\n", strings.Join(addrs, ","))
	if mode != "serve" {
		for _, l := range ls {
			l.Close()
		}
		return
	}
	s, err := server.New(server.Options{Listeners: ls, Logger: newLogger(&logBuffer{})}, servertest.Table(&servertest.Handler{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	fmt.Println("SERVING")
	io.Copy(io.Discard, os.Stdin)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	fmt.Println("CLOSED")
}

func unixFcntl(fd int) (int, error) {
	r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

// activated is the re-executed child and the lines it prints.
type activated struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string // closed at the child's EOF
}

// startActivated runs TestActivationChild in mode with files as fds 3, 4, ...
// and env (LISTEN_FDS, LISTEN_FDNAMES, ACTIVATION_NAMES) added; LISTEN_PID
// is set to the child's pid by sh before it execs the test binary.
func startActivated(t *testing.T, mode string, files []*os.File, env ...string) *activated {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"`,
		os.Args[0], "-test.run=^TestActivationChild$", "-test.count=1")
	cmd.Env = append(append(os.Environ(), envActivationChild+"="+mode, "GORACE=atexit_sleep_ms=0"), env...)
	cmd.ExtraFiles = files
	cmd.Stderr = os.Stderr
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
	a := &activated{cmd: cmd, stdin: stdin, lines: make(chan string, 64)}
	go func() {
		defer close(a.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			a.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return a
}

// until returns the child's lines up to and including the first one that
// starts with prefix, failing t after 10 s or at the child's EOF.
func (a *activated) until(t *testing.T, prefix string) []string {
	t.Helper()
	var got []string
	timeout := time.After(10 * time.Second)
	for {
		select {
		case line, ok := <-a.lines:
			if !ok {
				t.Fatalf("child ended before printing %q; printed %q", prefix, got)
			}
			got = append(got, line)
			if strings.HasPrefix(line, prefix) {
				return got
			}
		case <-timeout:
			t.Fatalf("child printed no %q within 10 s; printed %q", prefix, got)
		}
	}
}

// listenFile is a listening Unix socket in a fresh directory and a copy of
// its descriptor to pass to a child; the test's own listener is closed at
// cleanup without removing the file.
func listenFile(t *testing.T, name string) (*net.UnixListener, *os.File, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	f, err := l.File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(); f.Close() })
	return l, f, path
}

// TestActivationFirstCallAnswered passes a socket as systemd does and sends
// a call on it before the server process even exists: the call waits in
// the socket's backlog and the freshly started server answers it (the
// call containerd #4888 dropped). The server leaves the socket file, which
// it did not create, in place at Close.
func TestActivationFirstCallAnswered(t *testing.T) {
	leakCheck(t)
	l, f, path := listenFile(t, "ctl.sock")
	first := dialRaw(t, path) // queued in the backlog: nobody accepts yet
	first.sendMsg(servertest.MsgEcho, 1, &servertest.EchoRequest{ID: "first", N: 1})
	a := startActivated(t, "serve", []*os.File{f}, "LISTEN_FDS=1", "LISTEN_FDNAMES=ctl", "ACTIVATION_NAMES=ctl")
	got := a.until(t, "SERVING")
	if want := "RESULT ok: ctl.sock"; !contains(got, want) || len(got) != 2 {
		t.Fatalf("child printed %q, want only %q and SERVING", got, want)
	}
	// From here on only the child holds the socket.
	l.Close()
	f.Close()
	if resp := first.echo(1); resp.ID != "first" || resp.N != 1 {
		t.Fatalf("first call answered %+v", resp)
	}
	second := dialRaw(t, path)
	second.sendMsg(servertest.MsgEcho, 7, &servertest.EchoRequest{ID: "second", N: 2})
	if resp := second.echo(7); resp.ID != "second" {
		t.Fatalf("second connection answered %+v", resp)
	}
	a.stdin.Close()
	a.until(t, "CLOSED")
	if info, err := os.Lstat(path); err != nil || info.Mode().Type() != os.ModeSocket {
		t.Fatalf("inherited socket file after Close: %v, %v; want it left in place", info, err)
	}
}

// TestActivationPicksByName passes two sockets and asks for one: the other
// is closed in the child, so once the test lets go of its copies nobody
// listens on it.
func TestActivationPicksByName(t *testing.T) {
	leakCheck(t)
	la, fa, pathA := listenFile(t, "a.sock")
	lb, fb, pathB := listenFile(t, "b.sock")
	a := startActivated(t, "serve", []*os.File{fa, fb}, "LISTEN_FDS=2", "LISTEN_FDNAMES=admin:metrics", "ACTIVATION_NAMES=metrics")
	got := a.until(t, "SERVING")
	if want := "RESULT ok: b.sock"; !contains(got, want) || len(got) != 2 {
		t.Fatalf("child printed %q, want only %q and SERVING", got, want)
	}
	la.Close()
	fa.Close()
	lb.Close()
	fb.Close()
	c := dialRaw(t, pathB)
	c.sendMsg(servertest.MsgEcho, 3, &servertest.EchoRequest{ID: "b"})
	if resp := c.echo(3); resp.ID != "b" {
		t.Fatalf("answered %+v", resp)
	}
	if nc, err := net.Dial("unix", pathA); err == nil {
		nc.Close()
		t.Fatalf("dial %s (the socket not asked for) succeeded; want it closed in the child", pathA)
	} else if !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("dial %s: %v, want connection refused", pathA, err)
	}
}

// TestActivationBadDescriptors passes what a misconfigured unit passes:
// each is refused with an error naming the descriptor and what it is, and
// no passed descriptor stays open at its number.
func TestActivationBadDescriptors(t *testing.T) {
	_, sockFile, _ := listenFile(t, "ok.sock")
	regular, err := os.Create(filepath.Join(t.TempDir(), "plain"))
	if err != nil {
		t.Fatal(err)
	}
	defer regular.Close()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	tcpFile, err := tcp.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer tcpFile.Close()
	pair, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	connected := os.NewFile(uintptr(pair[0]), "pair0")
	defer connected.Close()
	defer syscall.Close(pair[1])
	for _, tc := range []struct {
		name  string
		files []*os.File
		env   []string
		want  string
	}{
		{"regular file", []*os.File{regular}, []string{"LISTEN_FDS=1"},
			`file descriptor 3 ("unknown"): server: not a listening Unix stream socket: not a socket`},
		{"tcp", []*os.File{tcpFile}, []string{"LISTEN_FDS=1", "LISTEN_FDNAMES=web"},
			`file descriptor 3 ("web"): server: not a listening Unix stream socket: a TCP/IPv4 socket`},
		{"connected", []*os.File{connected}, []string{"LISTEN_FDS=1"},
			`file descriptor 3 ("unknown"): server: not a listening Unix stream socket: not listening (a connected socket? the server takes Accept=no sockets)`},
		{"second bad", []*os.File{sockFile, regular}, []string{"LISTEN_FDS=2"},
			`file descriptor 4 ("unknown"): server: not a listening Unix stream socket: not a socket`},
		{"names count", []*os.File{sockFile, sockFile}, []string{"LISTEN_FDS=2", "LISTEN_FDNAMES=a:b:c"},
			`LISTEN_FDNAMES="a:b:c" names 3 sockets but LISTEN_FDS=2`},
		{"missing name", []*os.File{sockFile}, []string{"LISTEN_FDS=1", "LISTEN_FDNAMES=procd.socket", "ACTIVATION_NAMES=procd"},
			`no socket named "procd" among LISTEN_FDNAMES="procd.socket"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := startActivated(t, "check", tc.files, tc.env...)
			got := a.until(t, "RESULT")
			want := "RESULT error: server: socket activation: " + tc.want
			if len(got) != 1 || got[0] != want {
				t.Fatalf("child printed\n%q\nwant only\n%q", got, want)
			}
		})
	}
}

// TestActivationEnvironment checks the variables themselves: not activated
// is no listeners and no error; every malformed or inconsistent set is an
// error naming the variable; the variables are unset either way.
func TestActivationEnvironment(t *testing.T) {
	pid := strconv.Itoa(os.Getpid())
	other := strconv.Itoa(os.Getpid() + 100000)
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string // "": no listeners, no error
	}{
		{"not activated", nil, ""},
		{"names alone", map[string]string{"LISTEN_FDNAMES": "a"}, "LISTEN_FDNAMES is set without LISTEN_PID and LISTEN_FDS"},
		{"pid alone", map[string]string{"LISTEN_PID": pid}, "LISTEN_PID is set but LISTEN_FDS is not"},
		{"fds alone", map[string]string{"LISTEN_FDS": "1"}, "LISTEN_FDS is set but LISTEN_PID is not"},
		{"fds not a number", map[string]string{"LISTEN_PID": pid, "LISTEN_FDS": "one"}, `LISTEN_FDS="one": want a count of sockets from 1 to 1024`},
		{"fds zero", map[string]string{"LISTEN_PID": pid, "LISTEN_FDS": "0"}, `LISTEN_FDS="0": want a count of sockets from 1 to 1024`},
		{"fds huge", map[string]string{"LISTEN_PID": pid, "LISTEN_FDS": "100000"}, `LISTEN_FDS="100000": want a count of sockets from 1 to 1024`},
		{"pid not a number", map[string]string{"LISTEN_PID": "self", "LISTEN_FDS": "1"}, `LISTEN_PID="self": want a process id`},
		{"pid of another process", map[string]string{"LISTEN_PID": other, "LISTEN_FDS": "1"},
			"LISTEN_PID=" + other + " is not this process (pid " + pid + "): the sockets were passed to another process, whose variables this one inherited"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, v := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
				t.Setenv(v, "")
				os.Unsetenv(v)
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			ls, err := server.ActivationListeners()
			if ls != nil {
				t.Fatalf("got listeners %v", ls)
			}
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("err = %v, want none", err)
			case tc.want != "" && (err == nil || err.Error() != "server: socket activation: "+tc.want):
				t.Fatalf("err = %v\nwant server: socket activation: %s", err, tc.want)
			}
			for _, v := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
				if val, ok := os.LookupEnv(v); ok {
					t.Errorf("%s=%q still set", v, val)
				}
			}
		})
	}
}

// TestStartInheritedNil refuses a nil listener instead of panicking later.
func TestStartInheritedNil(t *testing.T) {
	s, err := server.New(server.Options{Listeners: []net.Listener{nil}}, servertest.Table(&servertest.Handler{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err == nil || err.Error() != "server: Options.Listeners[0] is nil" {
		t.Fatalf("Start: %v", err)
	}
}

func contains(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}
