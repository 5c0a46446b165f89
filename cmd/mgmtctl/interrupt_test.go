package main

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/internal/exitcode"
)

// Ctrl-C end to end: a real mgmtctl process, on an extended connection to
// a real procd, is stopping a child that ignores SIGTERM (its stop_timeout
// is far longer than the test), so procd's Stop handler is blocked waiting
// for it. SIGINT makes mgmtctl exit 130 saying it was interrupted, and
// procd's handler sees its context end (its log says so) while the child
// is still stopping: the handler ended because the client gave up, not
// because the stop finished. The stop itself goes on: once the child
// exits, it is stopped.
func TestCtrlCEndsProcdHandler(t *testing.T) {
	d := startProcd(t, strings.ReplaceAll(shProc("stubborn", `trap "" TERM; echo ready; `+waitFor("go")), "stop_timeout: 2s", "stop_timeout: 60s"))
	ready := func() bool {
		return strings.Contains(ctl(t, "--socket", d.socket, "status", "stubborn").stdout, "running")
	}
	eventually(t, ready, func() string { return "stubborn never ran" })

	var out, errOut syncBuffer
	cmd := ctlProcess(t, &out, &errOut, "--socket", d.socket, "stop", "stubborn")
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	state := func() string { return ctl(t, "--socket", d.socket, "status", "stubborn").stdout }
	eventually(t, func() bool { return strings.Contains(state(), "stopping") },
		func() string { return "stubborn never showed stopping: " + state() })
	const line = `msg="stop: the client stopped waiting; the process goes on stopping" id=stubborn reason="context canceled"`
	if strings.Contains(d.log.String(), line) {
		t.Fatalf("procd logged the end of the stop before the interrupt:\n%s", d.log.String())
	}

	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatal("mgmtctl still running 10 s after SIGINT")
	}
	if code := cmd.ProcessState.ExitCode(); code != exitcode.Interrupted || out.String() != "" ||
		errOut.String() != "mgmtctl: stop stubborn: interrupted: context canceled\n" {
		t.Errorf("after SIGINT: exit %d, stdout %q, stderr %q; want 130 and the interruption", code, out.String(), errOut.String())
	}
	eventually(t, func() bool { return strings.Contains(d.log.String(), line) },
		func() string { return "procd's Stop handler did not end; its log:\n" + d.log.String() })
	if s := state(); !strings.Contains(s, "stopping") {
		t.Errorf("stubborn after the interrupted stop: %q, want still stopping (its stop_timeout is 60 s)", s)
	}

	d.trigger(t, "go")
	eventually(t, func() bool { return strings.Contains(state(), "stopped") },
		func() string { return "stubborn never stopped: " + state() })
}
