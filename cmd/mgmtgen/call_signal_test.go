package main

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCallInterrupt: SIGINT (Ctrl-C) ends a followed stream: what arrived
// is printed, "interrupted" on stderr, exit 130, and the server sees the
// connection close.
func TestCallInterrupt(t *testing.T) {
	sock := startLegacy(t)

	cmd := exec.Command(os.Args[0], "call", "-schema", "../../schema/mgmt.yaml", "-text", sock, "Logs", `{"ID":"web","Follow":true}`)
	cmd.Args[0] = "mgmtgen" // testscript.Main runs main for this name
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("first frame: %v (stderr %s)", err, stderr.String())
	}
	if want := `{"ID":"web","Stream":0,"Data":"line one\nline \u0000two\n","EOF":false}` + "\n"; first != want {
		t.Errorf("first frame %q, want %q", first, want)
	}
	// The first frame is printed after the signal handler is installed.
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatal("mgmtgen call did not end a minute after SIGINT")
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("exit %v, want status 130 (stderr %s)", err, stderr.String())
	}
	if got := strings.TrimSpace(stderr.String()); got != "mgmtgen: Logs: interrupted" {
		t.Errorf("stderr %q", got)
	}
}
