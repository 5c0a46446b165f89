package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mgmtgen/mgmtgen/internal/sshdial"
	"github.com/mgmtgen/mgmtgen/internal/sshtest"
)

// fleet is three "hosts" for mgmtctl --host: two sshds on 127.0.0.1, one
// forwarding to its procd's socket (ssh -W), one refusing forwarding (so
// the remote side runs this test binary as mgmtctl dial-stdio), and a
// port where no sshd listens.
type fleet struct {
	forward, fallback, down string // ssh:// addresses
	remote                  string // --remote-mgmtctl
	env                     *sshtest.Env
}

func startFleet(t *testing.T) *fleet {
	t.Helper()
	env := sshtest.New(t)
	pa := env.Start()
	pb := env.Start("AllowStreamLocalForwarding no")
	down := sshtest.FreePort(t)
	a := startProcd(t, shProc("web", sleeper))
	b := startProcd(t, shProc("db", sleeper)+shProc("cache", sleeper))
	t.Setenv(sshdial.EnvCommand, env.SSH())
	t.Setenv(sshdial.EnvControlDir, env.ControlDir)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return &fleet{
		forward:  fmt.Sprintf("ssh://%s@127.0.0.1:%d%s", env.User, pa, a.socket),
		fallback: fmt.Sprintf("ssh://127.0.0.1:%d%s", pb, b.socket),
		down:     fmt.Sprintf("ssh://127.0.0.1:%d%s", down, a.socket),
		remote:   execAsMgmtctl + "=1 " + exe,
		env:      env,
	}
}

// TestFleetList: list on three hosts, one down. The two up answer in one
// table with a HOST column, in the order given; the one down is reported
// with ssh's own message and the exit status is 1. Through --hosts FILE
// with --json every object carries its host.
func TestFleetList(t *testing.T) {
	f := startFleet(t)
	var r result
	eventually(t, func() bool {
		r = ctl(t, "--remote-mgmtctl", f.remote, "--host", f.forward, "--host", f.fallback, "--host", f.down, "list")
		return strings.Count(r.stdout, "running") == 3
	}, func() string { return "never three running processes: " + r.String() })
	t.Logf("mgmtctl --host ... list:\n%s", r)
	if r.code != 1 {
		t.Errorf("exit %d, want 1 (a host failed)", r.code)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	name := func(addr string) string { return regexp.QuoteMeta(strings.TrimPrefix(addr, "ssh://")) }
	want := []string{
		`^HOST +ID +NAME +STATE +PID +RSS$`,
		`^` + name(f.forward) + ` +web +web process +running +[1-9][0-9]* +\S+$`,
		`^` + name(f.fallback) + ` +db +db process +running +[1-9][0-9]* +\S+$`,
		`^` + name(f.fallback) + ` +cache +cache process +running +[1-9][0-9]* +\S+$`,
	}
	if len(lines) != len(want) {
		t.Fatalf("stdout:\n%s", r.stdout)
	}
	for i, w := range want {
		if !regexp.MustCompile(w).MatchString(lines[i]) {
			t.Errorf("line %d %q, want %s", i, lines[i], w)
		}
	}
	port := strings.Split(strings.TrimPrefix(f.down, "ssh://127.0.0.1:"), "/")[0]
	wantErr := "mgmtctl: " + strings.TrimPrefix(f.down, "ssh://") + ": list: ssh to " + f.down +
		" failed (exit status 255): ssh: connect to host 127.0.0.1 port " + port + ": Connection refused\n" +
		"mgmtctl: list: 1 of 3 hosts failed\n"
	if r.stderr != wantErr {
		t.Errorf("stderr:\n%s\nwant\n%s", r.stderr, wantErr)
	}
	if ents, _ := os.ReadDir(f.env.ControlDir); len(ents) < 2 {
		t.Errorf("control directory holds %d shared connections, want one per host up", len(ents))
	}

	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte("# the fleet\n"+f.forward+"\n\n"+f.fallback+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = ctlOK(t, "--remote-mgmtctl", f.remote, "--hosts", hosts, "--json", "list")
	var got []struct{ Host, ID, State string }
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || len(got) != 3 {
		t.Fatalf("--json: %v\n%s", err, r.stdout)
	}
	if got[0].Host != f.forward || got[0].ID != "web" || got[1].Host != f.fallback || got[1].ID != "db" || got[2].ID != "cache" {
		t.Errorf("--json list: %+v", got)
	}
	if !strings.HasPrefix(r.stdout, `[{"host":"`) {
		t.Errorf("--json: host is not the first field: %s", r.stdout)
	}
}

// TestFleetOneHost: one --host is a manager like a local one, through the
// fallback too: status and stop, output unchanged.
func TestFleetOneHost(t *testing.T) {
	f := startFleet(t)
	for _, h := range []string{f.forward, f.fallback} {
		id := "web"
		if h == f.fallback {
			id = "db"
		}
		var r result
		eventually(t, func() bool {
			r = ctl(t, "--remote-mgmtctl", f.remote, "--host", h, "status", id)
			return strings.Contains(r.stdout, "state:  running")
		}, func() string { return h + ": never running: " + r.String() })
		if !strings.HasPrefix(r.stdout, "id:     "+id+"\n") {
			t.Errorf("%s: status:\n%s", h, r.stdout)
		}
		r = ctlOK(t, "--remote-mgmtctl", f.remote, "--host", h, "stop", id)
		if r.stdout != id+": stopped\n" {
			t.Errorf("%s: stop: %q", h, r.stdout)
		}
	}
	r := ctl(t, "--host", f.down, "list")
	if r.code != 1 || !strings.Contains(r.stderr, "Connection refused") {
		t.Errorf("host down: %v", r)
	}
}

// TestFleetUsage: bad addresses and combinations are usage errors (2).
func TestFleetUsage(t *testing.T) {
	hosts := filepath.Join(t.TempDir(), "hosts")
	os.WriteFile(hosts, []byte("ssh://a/x.sock\nweb2\n"), 0o600)
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, []byte("# nobody\n"), 0o600)
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--host", "web1", "list"}, `--host: host "web1": want ssh://[user@]host[:port][/path/to/socket]`},
		{[]string{"--hosts", hosts, "list"}, hosts + `:2: host "web2": want ssh://[user@]host[:port][/path/to/socket]`},
		{[]string{"--hosts", empty, "list"}, empty + " names no host"},
		{[]string{"--host", "ssh://a", "--host", "ssh://a", "list"}, `--host: host "ssh://a" given twice`},
		{[]string{"--host", "ssh://a", "--socket", "/x", "list"}, "--host and --hosts exclude --socket and --runtime-dir: give the socket in the ssh:// address"},
		{[]string{"--host", "ssh://a", "--host", "ssh://b", "logs", "x"}, "logs works with one manager: give one --host"},
		{[]string{"--host", "ssh://a", "--host", "ssh://b", "events"}, "events works with one manager: give one --host"},
		{[]string{"--host", "ssh://a", "dial-stdio"}, "dial-stdio connects to a local socket: it is what runs on the other end of --host"},
	} {
		r := ctl(t, tc.args...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, "mgmtctl: "+tc.msg+"\n") {
			t.Errorf("%q: %v\nwant exit 2 and %q", tc.args, r, tc.msg)
		}
	}
}
