package sshdial

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/internal/sshtest"
)

// envDialStdio makes the test binary act as a remote "mgmtctl dial-stdio":
// ssh runs it on the "remote" host when stdio forwarding is refused.
const envDialStdio = "SSHDIAL_TEST_DIAL_STDIO"

func TestMain(m *testing.M) {
	if os.Getenv(envDialStdio) == "1" {
		os.Exit(dialStdio(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// dialStdio is the test's stand-in for mgmtctl dial-stdio: "--socket PATH
// dial-stdio" pipes stdin and stdout to PATH.
func dialStdio(args []string) int {
	if len(args) != 3 || args[0] != "--socket" || args[2] != "dial-stdio" {
		fmt.Fprintf(os.Stderr, "bad arguments %q\n", args)
		return 2
	}
	nc, err := net.Dial("unix", args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "dial-stdio:", err)
		return 1
	}
	go func() {
		io.Copy(nc, os.Stdin)
		nc.(*net.UnixConn).CloseWrite()
	}()
	io.Copy(os.Stdout, nc)
	return 0
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Target
		err  string
	}{
		{in: "ssh://web1", want: Target{Host: "web1"}},
		{in: "ssh://ops@web1:2222/run/procd/manager.sock", want: Target{User: "ops", Host: "web1", Port: "2222", Socket: "/run/procd/manager.sock"}},
		{in: "ssh://[::1]:22/s.sock", want: Target{Host: "::1", Port: "22", Socket: "/s.sock"}},
		{in: "ssh://web1/", want: Target{Host: "web1"}},
		{in: "web1", err: `host "web1": want ssh://[user@]host[:port][/path/to/socket]`},
		{in: "ssh://", err: `host "ssh://": no host name`},
		{in: "ssh://web1:x", err: `host "ssh://web1:x": invalid port ":x" after host`},
		{in: "ssh://web1:0", err: `host "ssh://web1:0": port "0" is not a port number`},
		{in: "ssh://-oProxyCommand=x", err: `host "ssh://-oProxyCommand=x": a host name cannot start with '-'`},
		{in: "ssh://-l@web1", err: `host "ssh://-l@web1": a user name cannot start with '-'`},
		{in: "ssh://u:pw@web1", err: `host "ssh://u:pw@web1": no password in the address: ssh authenticates with keys (BatchMode)`},
		{in: "ssh://web1/s?x=1", err: `host "ssh://web1/s?x=1": unexpected ?query, #fragment or opaque part`},
	} {
		got, err := Parse(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("Parse(%q) = %+v, %v; want error %q", tc.in, got, err, tc.err)
			}
			continue
		}
		tc.want.Raw = tc.in
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

// TestArgs: the ssh command lines, option by option.
func TestArgs(t *testing.T) {
	d := &Dialer{Command: []string{"ssh", "-F", "cfg"}, ControlDir: "/tmp/cm", ControlPersist: 90 * time.Second, Remote: "sudo -n mgmtctl"}
	tg, _ := Parse("ssh://ops@web1:2222/run/it's.sock")
	common := []string{"-F", "cfg", "-o", "BatchMode=yes", "-o", "ControlMaster=auto", "-o", "ControlPath=/tmp/cm/%C",
		"-o", "ControlPersist=90s", "-p", "2222", "-l", "ops"}
	if got, want := d.args(tg, modeForward), append(slices.Clone(common), "-W", "/run/it's.sock", "--", "web1"); !slices.Equal(got, want) {
		t.Errorf("forward:\n%q\nwant\n%q", got, want)
	}
	if got, want := d.args(tg, modeDialStdio), append(slices.Clone(common), "-T", "--", "web1", `sudo -n mgmtctl --socket '/run/it'\''s.sock' dial-stdio`); !slices.Equal(got, want) {
		t.Errorf("dial-stdio:\n%q\nwant\n%q", got, want)
	}
	d = &Dialer{Command: []string{"ssh"}, ControlDir: "none"}
	tg, _ = Parse("ssh://web1")
	if got, want := d.args(tg, modeDialStdio), []string{"-o", "BatchMode=yes", "-T", "--", "web1", "mgmtctl dial-stdio"}; !slices.Equal(got, want) {
		t.Errorf("no path, no sharing:\n%q\nwant\n%q", got, want)
	}
}

// echoSocket serves a Unix socket that answers every read with "echo:"
// and what it read.
func echoSocket(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "echo.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					c.Write(append([]byte("echo:"), buf[:n]...))
				}
			}()
		}
	}()
	return path
}

func roundTrip(t *testing.T, c net.Conn, msg string) (string, error) {
	t.Helper()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		return "", err
	}
	want := len("echo:") + len(msg)
	buf := make([]byte, want)
	_, err := io.ReadFull(c, buf)
	return string(buf), err
}

// TestVersion: -W takes a socket path from OpenSSH 9.4 on.
func TestVersion(t *testing.T) {
	for v, want := range map[string]bool{
		"OpenSSH_9.2p1 Debian-2+deb12u10, OpenSSL 3.0.19 27 Jan 2026": false,
		"OpenSSH_9.4p1, LibreSSL 3.7.3":                               true,
		"OpenSSH_10.0p2 Ubuntu-5":                                     true,
		"OpenSSH_8.9p1":                                               false,
		"Sun_SSH_1.5":                                                 false,
		"":                                                            false,
	} {
		if got := forwardsToPaths(v); got != want {
			t.Errorf("%q: %v, want %v", v, got, want)
		}
	}
}

// TestRealSSH runs the system ssh against a real sshd: a connection to the
// socket (ssh -W with a local OpenSSH >= 9.4, else the remote dial-stdio);
// the fallback from a refused ssh -W to dial-stdio, replaying what was
// written (an ssh wrapper plays an OpenSSH 9.6 whose -W the server
// refuses, as a server with AllowStreamLocalForwarding no does); a host
// that is down, whose error carries ssh's own message; and the shared
// connection left in the control directory.
func TestRealSSH(t *testing.T) {
	env := sshtest.New(t)
	port := env.Start()
	down := sshtest.FreePort(t)
	sock := echoSocket(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	remote := envDialStdio + "=1 " + exe
	refusing := filepath.Join(t.TempDir(), "ssh")
	script := "#!/bin/sh\n" +
		"case \" $* \" in *\" -V\"*) echo 'OpenSSH_9.6p1, OpenSSL 3.0.19' >&2; exit 0;; esac\n" +
		"case \" $* \" in *\" -W \"*) echo 'channel 0: open failed: administratively prohibited: open failed' >&2; " +
		"echo 'stdio forwarding failed' >&2; exit 255;; esac\n" +
		"exec ssh \"$@\"\n"
	if err := os.WriteFile(refusing, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	target := func(port int) Target {
		tg, err := Parse("ssh://127.0.0.1:" + strconv.Itoa(port) + sock)
		if err != nil {
			t.Fatal(err)
		}
		return tg
	}
	system := &Dialer{Command: strings.Fields(env.SSH()), ControlDir: env.ControlDir, Remote: remote}
	wantMode := modeDialStdio
	if system.forwardsToPaths() {
		wantMode = modeForward
	}
	for _, tc := range []struct {
		name string
		d    *Dialer
		mode string
	}{
		{"system ssh", system, wantMode},
		{"refused -W falls back", &Dialer{Command: append([]string{refusing}, strings.Fields(env.SSH())[1:]...), ControlDir: env.ControlDir, Remote: remote}, modeDialStdio},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc, err := tc.d.Dial(ctx, target(port))
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			for _, msg := range []string{"one", "two"} {
				if got, err := roundTrip(t, nc, msg); err != nil || got != "echo:"+msg {
					t.Fatalf("round trip %q: %q, %v", msg, got, err)
				}
			}
			if got := nc.(*conn).mode; got != tc.mode {
				t.Errorf("carried by %s, want %s", got, tc.mode)
			}
		})
	}
	if ents, _ := os.ReadDir(env.ControlDir); len(ents) == 0 {
		t.Error("no shared connection in the control directory")
	}

	nc, err := system.Dial(ctx, target(down))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_, err = roundTrip(t, nc, "anyone?")
	var se *Error
	if !errors.As(err, &se) || !strings.Contains(se.Stderr, "Connection refused") ||
		!strings.HasPrefix(err.Error(), "ssh to "+target(down).Raw+" failed (exit status 255): ") {
		t.Fatalf("host down: %v; want an *Error with ssh's message", err)
	}
}
