package sockperm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var me = Owners(uint32(os.Geteuid()))

// Walk resolves symlinks as the kernel does, relative ones and ".." included,
// and stops on a loop.
func TestWalkResolves(t *testing.T) {
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(base, "a", "b")
	if err := os.MkdirAll(real, 0o700); err != nil {
		t.Fatal(err)
	}
	os.Symlink("a/b", filepath.Join(base, "rel"))
	os.Symlink(base+"/rel/..", filepath.Join(base, "up"))
	os.Symlink("loop", filepath.Join(base, "loop"))
	for in, want := range map[string]string{
		filepath.Join(base, "rel"):             real,
		filepath.Join(base, "up", "b"):         real,
		base + "/rel/../b":                     real,
		filepath.Join(base, "a", ".", "b", ""): real,
	} {
		got, err := Dir(in, me)
		if err != nil || got != want {
			t.Errorf("Dir(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := Walk(filepath.Join(base, "loop"), me); err == nil || !strings.Contains(err.Error(), "too many levels of symbolic links") {
		t.Errorf("loop: %v", err)
	}
	if _, err := Dir(filepath.Join(base, "missing"), me); !os.IsNotExist(err) {
		t.Errorf("missing: %v", err)
	}
}

// File and Dir refuse what an untrusted uid owns; root is always trusted.
func TestOwners(t *testing.T) {
	if !Owners()(0) || Owners(5)(6) || !Owners(5, 6)(6) {
		t.Fatal("Owners")
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	nobody := func(uid uint32) bool { return uid == 65534 } // not even root
	if err := File(f, me); err != nil {
		t.Errorf("own file: %v", err)
	}
	if err := File(f, nobody); err == nil || !strings.Contains(err.Error(), "belongs to uid") {
		t.Errorf("file of another uid: %v", err)
	}
	if err := File(filepath.Join(dir, "none"), nobody); err != nil {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Dir(dir, nobody); err == nil || !strings.Contains(err.Error(), "is owned by uid") {
		t.Errorf("directory of another uid: %v", err)
	}
}
