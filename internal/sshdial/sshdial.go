// Package sshdial reaches a management socket on another host through the
// system OpenSSH client, as docker (-H ssh://) and varlinkctl (ssh-unix:)
// do: the user's ssh config, agent and known_hosts apply, and nothing here
// speaks SSH itself.
//
// A target is ssh://[user@]host[:port][/path/to/socket]. With a socket
// path and a local OpenSSH of 9.4 or later, the connection is `ssh -W
// /path/to/socket host`: ssh forwards its stdin and stdout to the Unix
// socket on the remote side (the remote sshd needs OpenSSH >= 6.7 and
// AllowStreamLocalForwarding, the default). When the remote sshd refuses
// that, the connection falls back, once and before a byte of the answer
// arrived, to `ssh host mgmtctl --socket /path/to/socket dial-stdio`,
// which runs the remote mgmtctl to pipe its stdin and stdout to the socket
// (what was written meanwhile is sent again: the server cannot have seen
// it). An older local ssh (Debian 12 has 9.2) accepts -W with a path but
// silently forwards nothing, so with it, and without a path, every
// connection is dial-stdio; without a path the remote mgmtctl finds the
// remote user's default socket.
//
// Every ssh runs with BatchMode=yes (no prompt ever waits for a password)
// and shares one connection per host (ControlMaster=auto, ControlPersist):
// only the first call to a host pays the SSH handshake. ssh's standard
// error is kept and becomes part of the error when ssh fails.
//
// What is checked: the remote host's key (ssh's known_hosts), and the
// login (ssh's authentication). The remote server sees the login user as
// its peer (SO_PEERCRED of the forwarded connection), so its own access
// rules apply to that user. The local client cannot check the remote
// server's uid as it does for a local socket; with dial-stdio the remote
// mgmtctl does, as the login user.
package sshdial

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Target is a parsed ssh:// address.
type Target struct {
	Raw    string // as given
	User   string // "" : ssh's default
	Host   string
	Port   string // "" : ssh's default
	Socket string // absolute path on the remote host; "": the remote mgmtctl's default
}

// String is the address as given.
func (t Target) String() string { return t.Raw }

// Parse parses ssh://[user@]host[:port][/path/to/socket].
func Parse(s string) (Target, error) {
	t := Target{Raw: s}
	if !strings.HasPrefix(s, "ssh://") {
		return t, fmt.Errorf("host %q: want ssh://[user@]host[:port][/path/to/socket]", s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return t, fmt.Errorf("host %q: %v", s, errors.Unwrap(err))
	}
	switch {
	case u.Host == "" || u.Hostname() == "":
		return t, fmt.Errorf("host %q: no host name", s)
	case u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return t, fmt.Errorf("host %q: unexpected ?query, #fragment or opaque part", s)
	case strings.HasPrefix(u.Hostname(), "-"):
		return t, fmt.Errorf("host %q: a host name cannot start with '-'", s)
	}
	if _, ok := u.User.Password(); ok {
		return t, fmt.Errorf("host %q: no password in the address: ssh authenticates with keys (BatchMode)", s)
	}
	t.User, t.Host, t.Port = u.User.Username(), u.Hostname(), u.Port()
	if strings.HasPrefix(t.User, "-") {
		return t, fmt.Errorf("host %q: a user name cannot start with '-'", s)
	}
	if t.Port != "" {
		if p, err := strconv.Atoi(t.Port); err != nil || p < 1 || p > 65535 {
			return t, fmt.Errorf("host %q: port %q is not a port number", s, t.Port)
		}
	}
	if u.Path != "" && u.Path != "/" {
		t.Socket = filepath.Clean(u.Path)
	}
	return t, nil
}

// Dialer starts the ssh processes. The zero value uses "ssh" from PATH,
// connection sharing in DefaultControlDir and "mgmtctl" as the remote
// command.
type Dialer struct {
	// Command is the ssh command and any arguments to put first, e.g.
	// ["ssh", "-F", "/path/to/config"]; nil: CommandFromEnv.
	Command []string
	// ControlDir holds the shared connections' control sockets; "":
	// DefaultControlDir. "none" turns sharing off.
	ControlDir string
	// ControlPersist is how long a shared connection outlives its last
	// use; 0: DefaultControlPersist.
	ControlPersist time.Duration
	// Remote is the remote mgmtctl for dial-stdio, given to the remote
	// user's shell as it is (e.g. "sudo -n /usr/local/bin/mgmtctl"); "":
	// $MGMT_SSH_REMOTE_MGMTCTL, else "mgmtctl".
	Remote string
}

// DefaultControlPersist is how long an idle shared connection lives.
const DefaultControlPersist = 60 * time.Second

// EnvCommand names the environment variable that overrides the ssh
// command: its value, split at white space (no quoting), replaces "ssh",
// as GIT_SSH_COMMAND does for git.
const EnvCommand = "MGMT_SSH_COMMAND"

// EnvRemote names the remote mgmtctl when Dialer.Remote is empty.
const EnvRemote = "MGMT_SSH_REMOTE_MGMTCTL"

// EnvControlDir overrides DefaultControlDir.
const EnvControlDir = "MGMT_SSH_CONTROL_DIR"

// CommandFromEnv is $MGMT_SSH_COMMAND split at white space, or ["ssh"].
func CommandFromEnv() []string {
	if f := strings.Fields(os.Getenv(EnvCommand)); len(f) > 0 {
		return f
	}
	return []string{"ssh"}
}

// DefaultControlDir is $MGMT_SSH_CONTROL_DIR, else a directory of the
// user's own under the temporary directory: a control socket's path must
// be short (a socket address), which rules out most home directories.
func DefaultControlDir() string {
	if d := os.Getenv(EnvControlDir); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("mgmt-ssh-%d", os.Geteuid()))
}

// maxReplay bounds what a connection keeps of what it wrote, to send
// again over dial-stdio when ssh -W was refused before any answer.
const maxReplay = 1 << 20

// maxStderr bounds the ssh standard error kept for errors.
const maxStderr = 8 << 10

// Error is a failed ssh: its exit status and standard error.
type Error struct {
	Target string // the ssh:// address
	Err    error  // how ssh ended (an *exec.ExitError), or why it could not start
	Stderr string // ssh's standard error, trimmed (at most its last 8 KiB)
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("ssh to %s failed (%v)", e.Target, e.Err)
	if e.Stderr != "" {
		msg += ": " + strings.ReplaceAll(e.Stderr, "\n", "; ")
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Dial starts ssh to t and returns the connection it carries to t's
// socket. ctx bounds starting ssh only; later failures surface on Read.
func (d *Dialer) Dial(ctx context.Context, t Target) (net.Conn, error) {
	c := &conn{d: d, t: t, closed: make(chan struct{})}
	mode := modeDialStdio
	if t.Socket != "" && d.forwardsToPaths() {
		mode = modeForward
	}
	if err := c.start(ctx, mode); err != nil {
		return nil, err
	}
	return c, nil
}

// forwardsToPaths says whether the local ssh forwards stdio to a Unix
// socket (-W /path: OpenSSH 9.4 and later), asking `ssh -V` once per
// command.
func (d *Dialer) forwardsToPaths() bool {
	cmd := d.command()
	key := strings.Join(cmd, "\x00")
	versionMu.Lock()
	defer versionMu.Unlock()
	if v, ok := versions[key]; ok {
		return v
	}
	out, _ := exec.Command(cmd[0], append(cmd[1:], "-V")...).CombinedOutput()
	v := forwardsToPaths(string(out))
	versions[key] = v
	return v
}

var (
	versionMu sync.Mutex
	versions  = map[string]bool{}
)

// forwardsToPaths reads `ssh -V`'s output: OpenSSH 9.4 or later.
func forwardsToPaths(version string) bool {
	_, rest, ok := strings.Cut(version, "OpenSSH_")
	if !ok {
		return false
	}
	var major, minor int
	if _, err := fmt.Sscanf(rest, "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 9 || major == 9 && minor >= 4
}

func (d *Dialer) command() []string {
	if d.Command != nil {
		return d.Command
	}
	return CommandFromEnv()
}

// Modes of an ssh process.
const (
	modeForward   = "forward"    // ssh -W /path
	modeDialStdio = "dial-stdio" // ssh host mgmtctl dial-stdio
)

// args is the ssh command line for mode.
func (d *Dialer) args(t Target, mode string) []string {
	args := append([]string(nil), d.command()[1:]...)
	args = append(args, "-o", "BatchMode=yes")
	if dir := d.controlDir(); dir != "" {
		persist := d.ControlPersist
		if persist <= 0 {
			persist = DefaultControlPersist
		}
		args = append(args, "-o", "ControlMaster=auto", "-o", "ControlPath="+filepath.Join(dir, "%C"),
			"-o", fmt.Sprintf("ControlPersist=%ds", int(persist/time.Second)))
	}
	if t.Port != "" {
		args = append(args, "-p", t.Port)
	}
	if t.User != "" {
		args = append(args, "-l", t.User)
	}
	if mode == modeForward {
		return append(args, "-W", t.Socket, "--", t.Host)
	}
	remote := d.Remote
	if remote == "" {
		remote = os.Getenv(EnvRemote)
	}
	if remote == "" {
		remote = "mgmtctl"
	}
	line := remote
	if t.Socket != "" {
		line += " --socket " + shellQuote(t.Socket)
	}
	return append(args, "-T", "--", t.Host, line+" dial-stdio")
}

func (d *Dialer) controlDir() string {
	switch d.ControlDir {
	case "none":
		return ""
	case "":
		return DefaultControlDir()
	}
	return d.ControlDir
}

// shellQuote quotes s for the remote user's POSIX shell.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:,@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// prepareControlDir makes dir, the user's own and private.
func prepareControlDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() || fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("ssh control directory %s must be a directory of mode 0700 (it is %v)", dir, fi.Mode())
	}
	return checkOwner(fi, dir)
}

// conn is one ssh process carrying a connection: its stdin is what we
// write, its stdout what we read.
type conn struct {
	d *Dialer
	t Target

	mu      sync.Mutex // guards the fields below and process replacement
	mode    string
	cmd     *exec.Cmd
	stdin   *os.File
	stdout  *os.File
	stderr  *stderrFile
	exited  chan struct{} // closed when cmd has been waited for
	waitErr error
	got     bool   // a byte has been read: no fallback any more
	sent    []byte // what was written, while a fallback may still replay it; nil past maxReplay
	replay  bool   // sent is still being kept
	closed  chan struct{}
	once    sync.Once
	rdl     time.Time
	wdl     time.Time
}

// start runs ssh in mode.
func (c *conn) start(ctx context.Context, mode string) error {
	if dir := c.d.controlDir(); dir != "" {
		if err := prepareControlDir(dir); err != nil {
			return &Error{Target: c.t.Raw, Err: err}
		}
	}
	args := c.d.args(c.t, mode)
	name := c.d.command()[0]
	inR, inW, err := os.Pipe()
	if err != nil {
		return err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return err
	}
	// ssh's stderr is a file, not a pipe: a shared connection's master
	// that ssh leaves in the background inherits it, and would hold a pipe
	// (and whoever reads it) open for as long as it lives.
	st, err := newStderrFile()
	if err != nil {
		inR.Close()
		inW.Close()
		outR.Close()
		outW.Close()
		return err
	}
	cmd := exec.Command(name, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, st.f
	if err := ctx.Err(); err != nil {
		return err
	}
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		st.f.Close()
		return &Error{Target: c.t.Raw, Err: err}
	}
	exited := make(chan struct{})
	go func() {
		err := cmd.Wait()
		c.mu.Lock()
		c.waitErr = err
		c.mu.Unlock()
		close(exited)
	}()
	c.mode, c.cmd, c.stdin, c.stdout, c.stderr, c.exited = mode, cmd, inW, outR, st, exited
	c.replay = mode == modeForward && c.sent == nil && !c.got
	c.stdin.SetWriteDeadline(c.wdl)
	c.stdout.SetReadDeadline(c.rdl)
	return nil
}

// Read reads what the remote socket sent. When ssh ends, Read returns
// io.EOF if it ended cleanly (the server closed the connection), else an
// *Error with ssh's standard error.
func (c *conn) Read(p []byte) (int, error) {
	for {
		c.mu.Lock()
		out := c.stdout
		c.mu.Unlock()
		n, err := out.Read(p)
		if n > 0 {
			c.mu.Lock()
			c.got, c.replay, c.sent = true, false, nil
			c.mu.Unlock()
			return n, nil
		}
		if err == nil {
			continue
		}
		if !errors.Is(err, io.EOF) {
			return 0, err
		}
		retry, err := c.ended()
		if !retry {
			return 0, err
		}
	}
}

// ended handles ssh's end of output: the error Read returns, or retry when
// a refused ssh -W was replaced by dial-stdio.
func (c *conn) ended() (retry bool, err error) {
	c.mu.Lock()
	exited, st, mode := c.exited, c.stderr, c.mode
	c.mu.Unlock()
	select {
	case <-exited:
	case <-c.closed:
		return false, net.ErrClosed
	case <-time.After(5 * time.Second):
		return false, &Error{Target: c.t.Raw, Err: errors.New("closed its output but did not exit"), Stderr: st.String()}
	}
	c.mu.Lock()
	waitErr, got, replay, sent := c.waitErr, c.got, c.replay, c.sent
	c.mu.Unlock()
	if waitErr == nil {
		return false, io.EOF
	}
	msg := st.String()
	if mode == modeForward && !got && replay && forwardRefused(msg) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if !c.replay { // more was written meanwhile than a replay keeps
			return false, &Error{Target: c.t.Raw, Err: waitErr, Stderr: msg}
		}
		sent = c.sent // with what was written since, the write that failed included
		c.stdin.Close()
		c.stdout.Close()
		c.stderr.f.Close()
		if err := c.start(context.Background(), modeDialStdio); err != nil {
			return false, err
		}
		if len(sent) > 0 {
			if _, err := c.stdin.Write(sent); err != nil {
				return false, err
			}
		}
		c.sent = nil
		return true, nil
	}
	return false, &Error{Target: c.t.Raw, Err: waitErr, Stderr: msg}
}

// forwardRefused says ssh's stderr reports that the remote side refused
// stdio forwarding to a socket (its channel open failed).
func forwardRefused(stderr string) bool {
	return strings.Contains(stderr, "open failed") || strings.Contains(stderr, "stdio forwarding failed") ||
		strings.Contains(stderr, "unknown channel type")
}

// Write sends p to the remote socket.
func (c *conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	in := c.stdin
	kept := false
	if c.replay {
		if len(c.sent)+len(p) > maxReplay {
			c.replay, c.sent = false, nil
		} else {
			c.sent = append(c.sent, p...)
			kept = true
		}
	}
	c.mu.Unlock()
	n, err := in.Write(p)
	if err != nil && kept && (errors.Is(err, syscall.EPIPE) || errors.Is(err, os.ErrClosed)) {
		// An ssh -W that the remote refused may exit before we write (its
		// stdin is then a broken pipe), or be replaced meanwhile (closed):
		// p is kept, and Read, which finds ssh gone, replays it over
		// dial-stdio, or reports ssh's error if it was not a refusal.
		return len(p), nil
	}
	return n, err
}

// Close ends the connection: ssh's stdin closes (the remote end sees the
// connection close), and ssh is killed if it has not exited a second later.
func (c *conn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.mu.Lock()
		in, out, exited, cmd, st := c.stdin, c.stdout, c.exited, c.cmd, c.stderr
		c.mu.Unlock()
		in.Close()
		out.Close()
		select {
		case <-exited:
		case <-time.After(time.Second):
			cmd.Process.Kill()
			<-exited
		}
		st.f.Close()
	})
	return nil
}

// Addr is the ssh:// address of a connection.
type Addr string

func (Addr) Network() string  { return "ssh" }
func (a Addr) String() string { return string(a) }

func (c *conn) LocalAddr() net.Addr  { return Addr("ssh-client") }
func (c *conn) RemoteAddr() net.Addr { return Addr(c.t.Raw) }

func (c *conn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

func (c *conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rdl = t
	return c.stdout.SetReadDeadline(t)
}

func (c *conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wdl = t
	return c.stdin.SetWriteDeadline(t)
}

// stderrFile is ssh's standard error: an unlinked temporary file.
type stderrFile struct{ f *os.File }

func newStderrFile() (*stderrFile, error) {
	f, err := os.CreateTemp("", "mgmt-ssh-stderr-")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	return &stderrFile{f: f}, nil
}

// String is the last maxStderr bytes ssh wrote, trimmed.
func (s *stderrFile) String() string {
	size, err := s.f.Seek(0, io.SeekEnd)
	if err != nil {
		return ""
	}
	off := max(size-maxStderr, 0)
	b := make([]byte, size-off)
	n, _ := s.f.ReadAt(b, off)
	return string(bytes.TrimSpace(b[:n]))
}

// ParseHosts parses the addresses of a command line's flag (named flag,
// e.g. "--host") and the lines of file (""; none): one address a line,
// blank lines and lines starting with # skipped. Errors say where the bad
// address is (the flag, or file:line); an address given twice is one.
func ParseHosts(flag string, addrs []string, file string) ([]Target, error) {
	type src struct{ where, addr string }
	var all []src
	for _, a := range addrs {
		all = append(all, src{flag, a})
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		for n, line := range strings.Split(string(b), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				all = append(all, src{fmt.Sprintf("%s:%d", file, n+1), line})
			}
		}
		if len(all) == len(addrs) {
			return nil, fmt.Errorf("%s names no host", file)
		}
	}
	seen := make(map[string]bool)
	var out []Target
	for _, s := range all {
		t, err := Parse(s.addr)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", s.where, err)
		}
		if seen[t.Raw] {
			return nil, fmt.Errorf("%s: host %q given twice", s.where, t.Raw)
		}
		seen[t.Raw] = true
		out = append(out, t)
	}
	return out, nil
}
