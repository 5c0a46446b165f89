// Package sockperm checks that a Unix socket's path is safe to trust: that
// no user other than the trusted ones can put another socket, or another
// directory, in its place. Both ends use it: a server before it binds
// (runtime/server), a client before it connects (cmd/mgmtctl).
//
// A path is safe when every directory on the way to it, following symlinks
// as the kernel does, is owned by a trusted uid and is not writable by group
// or others unless it is sticky (as /tmp is: there, others cannot rename or
// remove what they do not own), and every symlink on the way is owned by a
// trusted uid. The socket's own directory must in addition not be writable
// by group or others at all, sticky or not: Dir checks that.
package sockperm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// maxLinks is the most symlinks followed while resolving a path, as Linux's
// MAXSYMLINKS.
const maxLinks = 40

// Trust reports whether a uid may own a directory or symlink on the path.
type Trust func(uid uint32) bool

// Owners trusts root and the given uids.
func Owners(uids ...uint32) Trust {
	return func(uid uint32) bool {
		if uid == 0 {
			return true
		}
		for _, u := range uids {
			if u == uid {
				return true
			}
		}
		return false
	}
}

// Dir checks dir, the directory a socket lives in, and the path to it. It
// returns dir with every symlink resolved. An error says which directory or
// symlink is unsafe and why, in words meant for the user.
func Dir(dir string, trust Trust) (string, error) {
	real, err := Walk(dir, trust)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s is not a directory", dir)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return "", fmt.Errorf("directory %s is writable by group or others (mode %#o): another user could replace the socket; make it 0700 or 0755", show(dir, real), perm)
	}
	return real, nil
}

// File checks that the file at path (not followed if a symlink) is owned by
// a trusted uid. A missing file is not an error.
func File(path string, trust Trust) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if uid, ok := owner(fi); ok && !trust(uid) {
		return fmt.Errorf("%s belongs to uid %d", path, uid)
	}
	return nil
}

// Walk resolves path component by component, checking every directory it
// passes through and every symlink it follows, and returns the resolved
// path. The last component is checked like the others; it need not be a
// directory.
func Walk(path string, trust Trust) (string, error) {
	abs := path
	if !filepath.IsAbs(path) {
		// Not filepath.Abs: it cleans "link/.." lexically, the kernel does not.
		wd, err := os.Getwd()
		if err != nil {
			return "", err
		}
		abs = wd + "/" + path
	}
	rest := strings.Split(abs, "/")
	cur := "/"
	if err := checkDir(cur, trust); err != nil {
		return "", err
	}
	links := 0
	for len(rest) > 0 {
		name := rest[0]
		rest = rest[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, name)
		fi, err := os.Lstat(next)
		if err != nil {
			return "", err
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			cur = next
			if fi.IsDir() {
				if err := checkDir(cur, trust); err != nil {
					return "", err
				}
			}
			continue
		}
		if uid, ok := owner(fi); ok && !trust(uid) {
			return "", fmt.Errorf("%s is a symlink owned by uid %d", next, uid)
		}
		if links++; links > maxLinks {
			return "", fmt.Errorf("%s: too many levels of symbolic links", path)
		}
		target, err := os.Readlink(next)
		if err != nil {
			return "", err
		}
		if filepath.IsAbs(target) {
			cur = "/"
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return cur, nil
}

// checkDir checks one directory on the way: a trusted owner, and no write
// access for group or others unless sticky.
func checkDir(dir string, trust Trust) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if uid, ok := owner(fi); ok && !trust(uid) {
		return fmt.Errorf("directory %s is owned by uid %d", dir, uid)
	}
	if fi.Mode().Perm()&0o022 != 0 && fi.Mode()&os.ModeSticky == 0 {
		return fmt.Errorf("directory %s is writable by group or others (mode %#o) and not sticky", dir, fi.Mode().Perm())
	}
	return nil
}

// show names a directory as the user gave it, with its resolved form when
// that differs.
func show(given, real string) string {
	if abs, err := filepath.Abs(given); err == nil && abs == real {
		return given
	}
	return fmt.Sprintf("%s (%s)", given, real)
}
