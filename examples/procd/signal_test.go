package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
)

// procdBinary is procd running as a process of its own: the test binary
// acting as procd's main.
type procdBinary struct {
	cmd     *exec.Cmd
	exited  chan error // closed when procd has exited; then waitErr is set
	waitErr error
	log     string // file holding procd's stderr
}

// startProcdBinary runs procd on config and dials it.
func startProcdBinary(t *testing.T, dir, config string) (*procdBinary, *mgmt.Client) {
	t.Helper()
	cfgPath := filepath.Join(dir, "procd.yaml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	b := &procdBinary{exited: make(chan error), log: filepath.Join(dir, "procd.log")}
	logFile, err := os.Create(b.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	b.cmd = exec.Command(os.Args[0], "-config", cfgPath, "-runtime-dir", filepath.Join(dir, "run"), "-shutdown-timeout", "5s")
	// atexit_sleep_ms: a race-enabled binary otherwise lingers 1s at exit.
	b.cmd.Env = append(os.Environ(), execAsProcd+"=1", "GORACE=atexit_sleep_ms=0")
	b.cmd.Stderr = logFile
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		b.waitErr = b.cmd.Wait()
		close(b.exited)
	}()
	t.Cleanup(func() {
		b.cmd.Process.Kill() // harmless when the test ended it
		<-b.exited
	})
	c := dialWait(t, filepath.Join(dir, "run", "manager.sock"), b.exited)
	t.Cleanup(func() { c.Close() })
	return b, c
}

// TestSIGTERMStopsEverything runs procd as a real process, sends it SIGTERM
// and checks that every child and grandchild is gone, within the stop
// timeouts, and the socket with them.
func TestSIGTERMStopsEverything(t *testing.T) {
	dir := shortDir(t)
	config := "runtime_dir: /nonexistent\nprocesses:\n" +
		shProc("tough", `trap "" TERM; sleep 30 & echo $!; echo ready; wait`, "    stop_timeout: 300ms\n") +
		shProc("soft", `sleep 30 & echo $!; echo ready; wait`, "") +
		shProc("plain", `echo ready; exec sleep 30`, "")
	b, c := startProcdBinary(t, dir, config)
	p := &procd{dir: dir, client: c}
	var pids []int
	for _, id := range []string{"tough", "soft", "plain"} {
		out := p.waitOutput(t, id, 0, "ready\n")
		pids = append(pids, p.waitState(t, id, "running").ChildPID)
		for _, f := range strings.Fields(out) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	if len(pids) != 5 {
		t.Fatalf("pids %v, want 3 children and 2 grandchildren", pids)
	}
	begin := time.Now()
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("procd still running 10s after SIGTERM")
	}
	if b.waitErr != nil {
		t.Errorf("procd exited with %v", b.waitErr)
	}
	if d := time.Since(begin); d > 3*time.Second {
		t.Errorf("procd took %v to shut down (stop timeouts are at most 2s)", d)
	}
	for _, pid := range pids {
		assertGone(t, pid)
	}
	if _, err := os.Stat(filepath.Join(dir, "run", "manager.sock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket after SIGTERM: %v", err)
	}
	if log, _ := os.ReadFile(b.log); !strings.Contains(string(log), "shut down") {
		t.Errorf("procd's log does not say it shut down:\n%s", log)
	}
}
