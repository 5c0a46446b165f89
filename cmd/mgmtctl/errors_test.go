package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string // the line before the usage text
	}{
		{nil, "mgmtctl: no command"},
		{[]string{"--json"}, "mgmtctl: no command"},
		{[]string{"frobnicate"}, `mgmtctl: unknown command "frobnicate"`},
		{[]string{"--bogus", "list"}, "mgmtctl: flag provided but not defined: -bogus"},
		{[]string{"--timeout", "soon", "list"}, `mgmtctl: invalid value "soon" for flag -timeout: parse error`},
		{[]string{"--timeout", "0s", "list"}, "mgmtctl: --timeout must be positive"},
		{[]string{"--socket", "/a", "--runtime-dir", "/b", "list"}, "mgmtctl: --socket and --runtime-dir exclude each other"},
		{[]string{"list", "extra"}, "mgmtctl: list takes no arguments"},
		{[]string{"list", "-x"}, "mgmtctl: list: flag provided but not defined: -x"},
		{[]string{"status"}, "mgmtctl: status takes exactly one process id"},
		{[]string{"status", "a", "b"}, "mgmtctl: status takes exactly one process id"},
		{[]string{"start"}, "mgmtctl: start needs at least one process id"},
		{[]string{"stop"}, "mgmtctl: stop needs at least one process id"},
		{[]string{"logs"}, "mgmtctl: logs takes exactly one process id"},
		{[]string{"logs", "-f"}, "mgmtctl: logs takes exactly one process id"},
		{[]string{"logs", "--stream", "both", "x"}, `mgmtctl: logs: --stream must be stdout, stderr or all, not "both"`},
		{[]string{"logs", "-n", "-1", "x"}, "mgmtctl: logs: --since and -n must not be negative"},
		{[]string{"logs", "--since", "yesterday", "x"}, `mgmtctl: logs: invalid value "yesterday" for flag -since: parse error`},
		{[]string{"events", "x"}, "mgmtctl: events takes no arguments (use --process)"},
	} {
		// No socket exists: usage errors must be found before connecting.
		r := ctl(t, append([]string{"--socket", "/nonexistent/s"}, tc.args...)...)
		if tc.args != nil && tc.args[0] == "--socket" {
			r = ctl(t, tc.args...)
		}
		first, rest, _ := strings.Cut(r.stderr, "\n")
		if r.code != 2 || r.stdout != "" || first != tc.msg || !strings.HasPrefix(rest, "usage: mgmtctl ") {
			t.Errorf("%q: %v", tc.args, r)
		}
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}, {"logs", "-h"}} {
		r := ctl(t, args...)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "usage: mgmtctl ") || r.stderr != "" {
			t.Errorf("%q: %v", args, r)
		}
	}
}

func TestConnectionErrors(t *testing.T) {
	dir := shortDir(t)
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close() // the socket file stays, with nobody listening
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--socket", filepath.Join(dir, "missing.sock"), "list"},
			"mgmtctl: no manager socket at " + filepath.Join(dir, "missing.sock") + " (is the manager running? see --socket, --runtime-dir)\n"},
		{[]string{"--runtime-dir", filepath.Join(dir, "nodir"), "status", "x"},
			"mgmtctl: no manager socket at " + filepath.Join(dir, "nodir", "manager.sock") + " (is the manager running? see --socket, --runtime-dir)\n"},
		{[]string{"--socket", stale, "logs", "x"},
			"mgmtctl: nothing is listening on " + stale + " (a stale socket: the manager is not running)\n"},
		{[]string{"--socket", stale, "events"},
			"mgmtctl: nothing is listening on " + stale + " (a stale socket: the manager is not running)\n"},
		{[]string{"--socket", file, "stop", "x"}, "mgmtctl: " + file + " is not a socket\n"},
		{[]string{"--socket", dir, "start", "x"}, "mgmtctl: " + dir + " is not a socket\n"},
	} {
		r := ctl(t, tc.args...)
		if r.code != 1 || r.stdout != "" || r.stderr != tc.msg {
			t.Errorf("%q: %v\nwant stderr %q", tc.args, r, tc.msg)
		}
	}
}

func TestResolveSocket(t *testing.T) {
	for _, tc := range []struct {
		socket, runtimeDir string
		uid                int
		env                map[string]string
		want               string
	}{
		{"/flag.sock", "", 0, map[string]string{"MGMTCTL_SOCKET": "/env.sock", "MGMTCTL_RUNTIME_DIR": "/envdir", "XDG_RUNTIME_DIR": "/xdg"}, "/flag.sock"},
		{"", "/flagdir", 0, map[string]string{"MGMTCTL_SOCKET": "/env.sock", "MGMTCTL_RUNTIME_DIR": "/envdir", "XDG_RUNTIME_DIR": "/xdg"}, "/flagdir/manager.sock"},
		{"", "", 0, map[string]string{"MGMTCTL_SOCKET": "/env.sock", "MGMTCTL_RUNTIME_DIR": "/envdir", "XDG_RUNTIME_DIR": "/xdg"}, "/env.sock"},
		{"", "", 0, map[string]string{"MGMTCTL_RUNTIME_DIR": "/envdir", "XDG_RUNTIME_DIR": "/xdg"}, "/envdir/manager.sock"},
		{"", "", 0, map[string]string{"XDG_RUNTIME_DIR": "/xdg"}, "/xdg/procd/manager.sock"},
		// The defaults: directories no other user can create entries in.
		{"", "", 0, map[string]string{"MGMTCTL_SOCKET": "", "HOME": "/root"}, "/run/procd/manager.sock"},
		{"", "", 1000, map[string]string{"HOME": "/home/a"}, "/home/a/.procd/manager.sock"},
		{"", "", 1000, nil, ""},
	} {
		got := resolveSocket(tc.socket, tc.runtimeDir, tc.uid, func(k string) string { return tc.env[k] })
		if got != tc.want {
			t.Errorf("resolveSocket(%q, %q, %v) = %q, want %q", tc.socket, tc.runtimeDir, tc.env, got, tc.want)
		}
	}
}

// TestSocketFromEnvironment checks the resolution end to end: run reads the
// real environment.
func TestSocketFromEnvironment(t *testing.T) {
	d := startProcd(t, shProc("web", sleeper))
	t.Setenv("XDG_RUNTIME_DIR", "/nonexistent")
	t.Setenv("MGMTCTL_SOCKET", "")
	t.Setenv("MGMTCTL_RUNTIME_DIR", filepath.Dir(d.socket))
	if r := ctl(t, "list"); r.code != 0 || !strings.Contains(r.stdout, "web") {
		t.Errorf("list with MGMTCTL_RUNTIME_DIR: %v", r)
	}
	t.Setenv("MGMTCTL_SOCKET", d.socket)
	t.Setenv("MGMTCTL_RUNTIME_DIR", "/nonexistent")
	if r := ctl(t, "status", "web"); r.code != 0 {
		t.Errorf("status with MGMTCTL_SOCKET: %v", r)
	}
	if r := ctl(t, "--runtime-dir", "/nonexistent", "status", "web"); r.code != 1 || !strings.Contains(r.stderr, "/nonexistent/manager.sock") {
		t.Errorf("--runtime-dir over MGMTCTL_SOCKET: %v", r)
	}
}
