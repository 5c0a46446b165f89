package main

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// activationConfig is a procd config with one long-running process; its
// own socket path is never bound when procd is socket-activated.
func activationConfig(t *testing.T, dir string) string {
	t.Helper()
	cfg := filepath.Join(dir, "procd.yaml")
	yaml := "socket: " + filepath.Join(dir, "unused", "never.sock") + "\nprocesses:\n" + shProc("sleeper", "exec sleep 30", "")
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// runActivated starts cmd (procd, one way or another), ends it with SIGTERM
// at cleanup and checks it exited cleanly and left the socket at sock,
// which it did not create, in place; log holds its stderr.
func runActivated(t *testing.T, cmd *exec.Cmd, sock, log string) {
	t.Helper()
	logFile, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("procd exited with %v", err)
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("procd still running 10 s after SIGTERM")
		}
		out, _ := os.ReadFile(log)
		if !strings.Contains(string(out), "inherited sockets left to the service manager") {
			t.Errorf("procd's log does not say it left the inherited socket:\n%s", out)
		}
		if info, err := os.Lstat(sock); err != nil || info.Mode().Type() != os.ModeSocket {
			t.Errorf("socket %s after procd ended: %v; want it left in place", sock, err)
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(log), "unused")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("procd touched its configured socket directory: %v", err)
		}
	})
}

// TestSocketActivatedBySystemdTool starts procd the way systemd does, with
// systemd-socket-activate: the tool binds the socket, waits for the first
// connection, and only then execs procd with the socket as fd 3. That
// first connection's call is answered.
func TestSocketActivatedBySystemdTool(t *testing.T) {
	tool, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		t.Skip("systemd-socket-activate not installed (Debian package systemd; CI installs it)")
	}
	dir := shortDir(t)
	sock := filepath.Join(dir, "procd.sock")
	// "--": nothing after it is the tool's option, whatever its getopt does.
	cmd := exec.Command(tool, "-l", sock, "--fdname=procd",
		"-E", execAsProcd+"=1", "-E", "GORACE=atexit_sleep_ms=0", "--",
		os.Args[0], "-config", activationConfig(t, dir), "-shutdown-timeout", "5s")
	log := filepath.Join(dir, "procd.log")
	runActivated(t, cmd, sock, log)
	// The socket file appears at bind, before listen: a connection then is
	// refused. The tool says "Listening on ..." once it listens.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if out, _ := os.ReadFile(log); strings.Contains(string(out), "Listening on") {
			break
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(log)
			t.Fatalf("systemd-socket-activate %q did not listen within 20 s:\n%s", cmd.Args, out)
		}
		time.Sleep(10 * time.Millisecond)
	}
	c, err := mgmt.Dial(sock) // wakes the tool, which execs procd
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := c.List(testCtx(t))
	if err != nil {
		t.Fatalf("first call on the freshly activated procd: %v", err)
	}
	if len(resp.Entries) != 1 || resp.Entries[0].ID != "sleeper" {
		t.Fatalf("List = %+v, want the one configured process", resp.Entries)
	}
}

// TestSocketActivatedWithExtraFiles passes the socket as fd 3 from this
// process (LISTEN_PID set by sh to its own pid before it execs procd) and
// writes a List request on it before procd even exists: the request waits
// in the backlog and the freshly started procd answers it, byte for byte a
// cliwrap exchange.
func TestSocketActivatedWithExtraFiles(t *testing.T) {
	dir := shortDir(t)
	sock := filepath.Join(dir, "procd.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	f, err := l.File()
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	frame, err := ipc.AppendFrame(nil, ipc.Header{MsgType: mgmt.MsgListRequest, SeqNo: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Write(frame); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=procd exec "$0" "$@"`,
		os.Args[0], "-config", activationConfig(t, dir), "-shutdown-timeout", "5s")
	cmd.Env = append(os.Environ(), execAsProcd+"=1", "GORACE=atexit_sleep_ms=0")
	cmd.ExtraFiles = []*os.File{f}
	runActivated(t, cmd, sock, filepath.Join(dir, "procd.log"))
	l.Close() // procd holds the socket now
	f.Close()
	nc.SetReadDeadline(time.Now().Add(15 * time.Second))
	h, body, err := ipc.NewFrameReader(nc, 0).ReadFrame()
	if err != nil {
		t.Fatalf("the call written before procd started: %v", err)
	}
	var resp mgmt.ListResponsePayload
	if h.MsgType != mgmt.MsgListResponse || h.SeqNo != 1 {
		t.Fatalf("answer %s seq %d, want %s seq 1", h.MsgType, h.SeqNo, mgmt.MsgListResponse)
	}
	if err := ipc.DecodePayload(body, &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Entries) != 1 || resp.Entries[0].ID != "sleeper" {
		t.Fatalf("List = %+v, want the one configured process", resp.Entries)
	}
}
