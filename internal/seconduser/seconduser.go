// Package seconduser runs part of a test as a second local user, uid and gid
// 65534 (nobody), for tests whose point is what another user can and cannot
// do. The test binary re-executes a world-readable copy of itself under that
// uid, running one helper test that does the other user's part:
//
//	func TestSecondUserHelper(t *testing.T) {
//		switch seconduser.Mode() {
//		case "":
//			t.Skip("helper for the second-user tests")
//		case "dial":
//			...
//		}
//	}
//
//	cmd := seconduser.Command(t, "TestSecondUserHelper", "dial", "SOCK="+path)
//
// Command skips the calling test unless it runs as root (CI does).
package seconduser

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// UID and GID are the second user's.
const (
	UID = 65534
	GID = 65534
)

// envMode carries the helper's mode to the re-executed binary.
const envMode = "MGMTGEN_SECOND_USER_MODE"

// Mode is the helper mode this process was re-executed for, or "" in a
// normal test run.
func Mode() string { return os.Getenv(envMode) }

// Command returns a command that runs the test named run, in mode, from a
// copy of the running test binary, as UID/GID, with env added to the
// environment. It skips t when the test does not run as root or the binary
// cannot be copied.
func Command(t testing.TB, run, mode string, env ...string) *exec.Cmd {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("running as uid %d: cannot start a child as uid %d", os.Geteuid(), UID)
	}
	exe := Binary(t)
	cmd := exec.Command(exe, "-test.run=^"+run+"$", "-test.count=1", "-test.v")
	cmd.Env = append(append(os.Environ(), envMode+"="+mode), env...)
	cmd.Dir = filepath.Dir(exe)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: UID, Gid: GID}}
	return cmd
}

// Binary returns a copy of the running test binary that every user can
// execute, removed when t ends.
func Binary(t testing.TB) string {
	t.Helper()
	bin, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Skipf("cannot copy the test binary: %v", err)
	}
	dir, err := os.MkdirTemp("", "seconduser-bin")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, filepath.Base(os.Args[0]))
	if err := os.WriteFile(exe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	return exe
}

// OpenDirs makes every directory above path searchable by others (adding
// o+x, never write access), so that only the permissions under test stand
// between the second user and path.
func OpenDirs(t testing.TB, path string) {
	t.Helper()
	for d := filepath.Dir(path); d != "/" && d != "."; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o001); err != nil {
				t.Fatal(err)
			}
		}
	}
}
