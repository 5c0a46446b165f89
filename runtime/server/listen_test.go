package server_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mgmtgen/mgmtgen/runtime/server"
)

// In a pre-existing directory open to everyone, the socket is bound in a
// private directory and linked into place: it appears with mode 0600 and
// nothing else is left behind. A socket path too long for the private name
// falls back to binding in place and still ends up 0600.
func TestListenPrivateBind(t *testing.T) {
	leakCheck(t)
	open := t.TempDir()
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	// A socket path of 100 bytes: bindable, but not with the private
	// directory's name added.
	long := filepath.Join(base, strings.Repeat("d", 100-len(base)-len("/")-len("/m.sock")))
	for _, path := range []string{filepath.Join(open, "m.sock"), filepath.Join(long, "m.sock")} {
		srv, _ := startServer(t, server.Options{SocketPath: path}, nil)
		fi, err := os.Lstat(path)
		if err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, %v", path, fi.Mode(), err)
		}
		entries, err := os.ReadDir(filepath.Dir(path))
		if err != nil || len(entries) != 1 {
			t.Fatalf("%s: directory holds %v (%v), want the socket alone", path, entries, err)
		}
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatalf("dial %s: %v", path, err)
		}
		c.Close()
		if err := srv.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(path); !os.IsNotExist(err) {
			t.Errorf("%s left after Close: %v", path, err)
		}
	}
}
