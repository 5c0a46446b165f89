package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mgmtgen/mgmtgen/internal/fakeserver"
	"github.com/mgmtgen/mgmtgen/internal/seconduser"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

// execAsMgmtctl makes the test binary run mgmtctl's main (for real signals).
const execAsMgmtctl = "MGMTCTL_TEST_EXEC_MAIN"

// procdBin is the procd binary built by TestMain.
var procdBin string

func TestMain(m *testing.M) {
	if os.Getenv(execAsMgmtctl) == "1" {
		main()
		return
	}
	if seconduser.Mode() != "" { // the second user's part of a test: no procd needed
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "mgmtctl-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	procdBin = filepath.Join(dir, "procd")
	build := exec.Command(goTool(), "build", "-o", procdBin, "github.com/mgmtgen/mgmtgen/examples/procd")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building procd:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// goTool is the go command of the toolchain running the tests.
func goTool() string {
	if p := filepath.Join(os.Getenv("GOROOT"), "bin", "go"); os.Getenv("GOROOT") != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "go"
}

// shortDir is a temporary directory with a short path (socket paths must
// fit in 108 bytes; t.TempDir holds the test name).
func shortDir(t *testing.T) string { return fakeserver.SocketDir(t, "mgmtctl") }

// daemon is a procd process under test.
type daemon struct {
	dir    string // scratch directory; @DIR@ in the config
	socket string
	cmd    *exec.Cmd
	exited chan struct{}
	log    *syncBuffer // procd's stderr (its log)
}

// startProcd runs procd on a config with the given processes (YAML list
// items; @DIR@ stands for the scratch directory) and waits for its socket.
func startProcd(t *testing.T, processes string) *daemon {
	t.Helper()
	d := &daemon{dir: shortDir(t), exited: make(chan struct{})}
	d.socket = filepath.Join(d.dir, "run", "manager.sock")
	cfg := filepath.Join(d.dir, "procd.yaml")
	yaml := "runtime_dir: /nonexistent\nprocesses:\n" + strings.ReplaceAll(processes, "@DIR@", d.dir)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	d.cmd = exec.Command(procdBin, "-config", cfg, "-runtime-dir", filepath.Join(d.dir, "run"))
	d.log = new(syncBuffer)
	d.cmd.Stderr = d.log
	if testing.Verbose() {
		d.cmd.Stderr = io.MultiWriter(os.Stderr, d.log)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() { d.shutdown(t) })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("unix", d.socket); err == nil {
			c.Close()
			return d
		}
		select {
		case <-d.exited:
			t.Fatalf("procd exited: %v", d.cmd.ProcessState)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("procd never served its socket")
		}
	}
}

// shutdown sends procd SIGTERM and waits for it.
func (d *daemon) shutdown(t *testing.T) {
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(10 * time.Second):
		d.cmd.Process.Kill()
		<-d.exited
		t.Error("procd ignored SIGTERM")
	}
}

// trigger creates the file a test child waits for.
func (d *daemon) trigger(t *testing.T, name string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(d.dir, name), nil, 0o600); err != nil {
		t.Fatal(err)
	}
}

// waitFor is a shell loop that waits for the trigger file name.
func waitFor(name string) string {
	return "while [ ! -e @DIR@/" + name + " ]; do sleep 0.01; done"
}

// shProc is the YAML of a process running script with /bin/sh -c.
func shProc(id, script string) string {
	return fmt.Sprintf("  - id: %s\n    name: %s process\n    command: /bin/sh\n    args: [-c, %q]\n    restart: never\n    stop_timeout: 2s\n", id, id, script)
}

// syncBuffer is a buffer safe for a writer and a reader at once: mgmtctl's
// output, procd's log.
type syncBuffer = servertest.LogBuffer

// result is one mgmtctl run.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// ctlProcess starts mgmtctl as a real process (the test binary running
// main) with args; its output goes to out and errOut.
func ctlProcess(t *testing.T, out, errOut io.Writer, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	// atexit_sleep_ms: a race-enabled binary otherwise lingers 1s at exit.
	cmd.Env = append(os.Environ(), execAsMgmtctl+"=1", "GORACE=atexit_sleep_ms=0")
	cmd.Stdout, cmd.Stderr = out, errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// ctl runs mgmtctl in process with args and no MGMTCTL_*/XDG environment.
func ctl(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errOut syncBuffer
	code := run(ctx, args, &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

// ctlOK is ctl that fails the test unless mgmtctl exits 0.
func ctlOK(t *testing.T, args ...string) result {
	t.Helper()
	r := ctl(t, args...)
	if r.code != 0 {
		t.Fatalf("mgmtctl %s: %v", strings.Join(args, " "), r)
	}
	return r
}

// background runs mgmtctl in process until cancel (the Ctrl-C of run's ctx).
type background struct {
	out, errOut syncBuffer
	cancel      context.CancelFunc
	done        chan int
}

func ctlBackground(args ...string) *background {
	ctx, cancel := context.WithCancel(context.Background())
	b := &background{cancel: cancel, done: make(chan int, 1)}
	go func() { b.done <- run(ctx, args, &b.out, &b.errOut) }()
	return b
}

// wait returns the exit status, failing the test after a while.
func (b *background) wait(t *testing.T) int {
	t.Helper()
	select {
	case code := <-b.done:
		return code
	case <-time.After(10 * time.Second):
		b.cancel()
		<-b.done
		t.Fatalf("mgmtctl did not end; stdout %q stderr %q", b.out.String(), b.errOut.String())
		return -1
	}
}

// eventually polls cond until it holds, failing with what() after a while.
func eventually(t *testing.T, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(what())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
