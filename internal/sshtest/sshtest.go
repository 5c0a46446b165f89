// Package sshtest runs real OpenSSH servers for tests: sshd on 127.0.0.1,
// each on a port of its own, with a host key, an authorized client key,
// known_hosts and an ssh_config in a temporary directory, so that the
// system ssh reaches them with BatchMode and strict host key checking, as
// it would a real host. Tests skip when sshd is not installed (Debian
// package openssh-server; CI installs it).
package sshtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Env is a client identity and the sshd servers that accept it.
type Env struct {
	t   testing.TB
	dir string
	// Config is the ssh_config file that ssh must use (ssh -F Config).
	Config string
	// ControlDir is a directory for shared-connection control sockets.
	ControlDir string
	// User is the login user: the user running the test.
	User string

	started int // sshds started, for file names
}

// sshdPath finds sshd, or skips t.
func sshdPath(t testing.TB) string {
	for _, p := range []string{"/usr/sbin/sshd", "/usr/bin/sshd"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("sshd"); err == nil {
		return p
	}
	t.Skip("sshd is not installed (Debian package openssh-server; CI installs it)")
	return ""
}

// New makes the client's keys and config; Start adds servers.
func New(t testing.TB) *Env {
	t.Helper()
	sshdPath(t)
	dir, err := os.MkdirTemp("", "sshtest")
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{t: t, dir: dir, Config: filepath.Join(dir, "ssh_config"), ControlDir: filepath.Join(dir, "cm")}
	if err := os.Mkdir(e.ControlDir, 0o700); err != nil {
		t.Fatal(err)
	}
	u := os.Getenv("USER")
	if os.Geteuid() == 0 || u == "" {
		u = "root"
	}
	e.User = u
	keygen(t, filepath.Join(dir, "id"))
	keygen(t, filepath.Join(dir, "host_key"))
	pub, err := os.ReadFile(filepath.Join(dir, "id.pub"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "authorized_keys"), pub)
	write(t, filepath.Join(dir, "known_hosts"), nil)
	write(t, e.Config, []byte(fmt.Sprintf(`Host *
	User %s
	IdentityFile %s
	IdentitiesOnly yes
	IdentityAgent none
	UserKnownHostsFile %s
	GlobalKnownHostsFile /dev/null
	StrictHostKeyChecking yes
	ConnectTimeout 10
	LogLevel ERROR
`, e.User, filepath.Join(dir, "id"), filepath.Join(dir, "known_hosts"))))
	t.Cleanup(e.cleanup)
	return e
}

func keygen(t testing.TB, path string) {
	t.Helper()
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "sshtest", "-f", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
}

func write(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// SSH is the ssh command line that uses the Env's config: for
// MGMT_SSH_COMMAND, split at spaces.
func (e *Env) SSH() string { return "ssh -F " + e.Config }

// FreePort is a port on 127.0.0.1 that nothing listens on: a host that is
// down.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start runs an sshd accepting the Env's key, with extra lines added to its
// sshd_config (e.g. "AllowStreamLocalForwarding no"), until the test ends;
// it returns its port once it accepts connections.
func (e *Env) Start(extra ...string) int {
	t := e.t
	t.Helper()
	if os.Geteuid() == 0 {
		os.MkdirAll("/run/sshd", 0o755) // sshd's privilege separation directory
	}
	port := FreePort(t)
	e.started++
	n := e.started
	cfg := filepath.Join(e.dir, fmt.Sprintf("sshd_config.%d", n))
	write(t, cfg, []byte(fmt.Sprintf(`ListenAddress 127.0.0.1:%d
HostKey %s
AuthorizedKeysFile %s
PidFile none
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
StrictModes no
AllowStreamLocalForwarding yes
LogLevel ERROR
%s
`, port, filepath.Join(e.dir, "host_key"), filepath.Join(e.dir, "authorized_keys"), strings.Join(extra, "\n"))))
	// sshd's stderr is a file: the session processes of a shared
	// connection inherit it, and a pipe would keep Wait waiting for them.
	stderr, err := os.Create(filepath.Join(e.dir, fmt.Sprintf("sshd.%d.log", n)))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sshdPath(t), "-D", "-e", "-f", cfg)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("sshd: %v", err)
	}
	stderr.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		e.exitMaster(port) // its session would outlive sshd
		cmd.Process.Kill()
		<-exited
	})
	log := func() string { b, _ := os.ReadFile(stderr.Name()); return string(b) }
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("sshd exited (%v): %s", err, log())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd not accepting on port %d within 10 s: %s", port, log())
		}
	}
	hostPub, err := os.ReadFile(filepath.Join(e.dir, "host_key.pub"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(e.dir, "known_hosts"), os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "[127.0.0.1]:%d %s", port, hostPub)
	f.Close()
	return port
}

// exitMaster ends the shared connection to port that the test's ssh runs
// left behind (ControlPersist), if there is one.
func (e *Env) exitMaster(port int) {
	cmd := exec.Command("ssh", "-F", e.Config, "-o", "ControlPath="+filepath.Join(e.ControlDir, "%C"),
		"-p", strconv.Itoa(port), "-O", "exit", "127.0.0.1")
	cmd.Run() // fails when there is none: nothing to end
}

// cleanup removes the directory.
func (e *Env) cleanup() { os.RemoveAll(e.dir) }
