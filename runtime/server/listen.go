package server

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/mgmtgen/mgmtgen/internal/sockperm"
)

// probeTimeout bounds the dial that tells a live socket from a stale one.
const probeTimeout = time.Second

// listenUnix prepares path and listens on it: the directory is created 0700
// when missing and checked (checkSocketDir) when it exists, a live server's
// socket is never touched, a stale socket file is replaced, and the new
// socket is 0600 from the moment it is reachable at path.
func listenUnix(path string) (net.Listener, *socketFile, error) {
	if path == "" {
		return nil, nil, errors.New("server: no socket path")
	}
	if err := checkPathLength(path); err != nil {
		return nil, nil, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("server: socket %s: directory: %w", path, err)
	}
	if err := checkSocketDir(path, dir); err != nil {
		return nil, nil, err
	}
	if err := clearStale(path); err != nil {
		return nil, nil, err
	}
	l, err := bindPrivate(path)
	if err != nil {
		return nil, nil, err
	}
	info, err := os.Lstat(path)
	if err != nil {
		l.Close()
		os.Remove(path)
		return nil, nil, fmt.Errorf("server: socket %s: %w", path, err)
	}
	return l, &socketFile{path: path, info: info}, nil
}

// maxSocketPath is the size of sockaddr_un's sun_path on Linux; a name must
// be shorter, leaving room for the terminating NUL.
const maxSocketPath = 108

// privateSuffix is what the private bind name adds to the socket's
// directory: "/" + privateDirPrefix + 8 hex digits + "/s".
const (
	privateDirPrefix = ".bind-"
	privateSuffix    = len("/") + len(privateDirPrefix) + 8 + len("/s")
	// MaxSocketDirLen is the longest socket directory (as given, relative or
	// absolute) that Start accepts: the socket is bound inside a private
	// directory there, whose name must fit a socket address.
	MaxSocketDirLen = maxSocketPath - 1 - privateSuffix
)

// checkPathLength refuses a path whose private bind name would not fit a
// socket address. Start never binds at the final path itself: that would
// leave the socket reachable with the umask's permissions until its chmod.
func checkPathLength(path string) error {
	if dir := filepath.Dir(path); len(dir) > MaxSocketDirLen {
		return fmt.Errorf("server: socket %s: path too long: its directory may be at most %d bytes long, this one is %d",
			path, MaxSocketDirLen, len(dir))
	}
	if len(path) >= maxSocketPath {
		return fmt.Errorf("server: socket %s: path too long: at most %d bytes, this one is %d", path, maxSocketPath-1, len(path))
	}
	return nil
}

// bindPrivate listens on a socket that is never reachable with looser
// permissions than 0600, whatever the umask: it binds inside a fresh 0700
// directory next to path, chmods the socket, then hard-links it to path,
// which fails rather than replace a file that appeared there meanwhile.
func bindPrivate(path string) (*net.UnixListener, error) {
	dir, err := privateDir(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("server: socket %s: private bind directory: %w", path, err)
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "s")
	l, err := bindAt(tmp, path)
	if err != nil {
		return nil, err
	}
	if err := os.Link(tmp, path); err != nil {
		l.Close()
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("server: socket %s appeared while starting; another server is starting there", path)
		}
		return nil, fmt.Errorf("server: socket %s: %w", path, unwrapPath(err))
	}
	return l, nil
}

// privateDir makes a 0700 directory in parent whose name has a fixed length
// (privateSuffix counts it).
func privateDir(parent string) (string, error) {
	for range 1000 {
		name := filepath.Join(parent, fmt.Sprintf("%s%08x", privateDirPrefix, rand.Uint32()))
		err := os.Mkdir(name, 0o700)
		if err == nil {
			return name, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return "", unwrapPath(err)
		}
	}
	return "", errors.New("no free name")
}

// bindAt listens at name and makes it 0600; path names the socket in errors.
func bindAt(name, path string) (*net.UnixListener, error) {
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: name, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("server: listen on %s: %w", path, unwrapPath(err))
	}
	// Close removes the file itself, and only while it is still ours.
	l.SetUnlinkOnClose(false)
	if err := os.Chmod(name, 0o600); err != nil {
		l.Close()
		os.Remove(name)
		return nil, fmt.Errorf("server: socket %s: %w", path, unwrapPath(err))
	}
	return l, nil
}

// unwrapPath drops the private name an *os.PathError, *os.LinkError or
// *net.OpError carries, so that errors name only the path the user gave.
func unwrapPath(err error) error {
	var pe *os.PathError
	var le *os.LinkError
	var oe *net.OpError
	switch {
	case errors.As(err, &pe):
		return pe.Err
	case errors.As(err, &le):
		return le.Err
	case errors.As(err, &oe):
		return oe.Err
	}
	return err
}

// checkSocketDir refuses a socket directory that another user could use to
// put their own socket at path: see package sockperm. The server's own uid
// and root are trusted.
func checkSocketDir(path, dir string) error {
	if _, err := sockperm.Dir(dir, sockperm.Owners(uint32(os.Geteuid()))); err != nil {
		return fmt.Errorf("server: socket %s: refusing an unsafe socket directory: %w", path, err)
	}
	return nil
}

// clearStale removes a socket file at path that no server answers on. It
// fails when a server answers, or when path is something other than a socket.
func clearStale(path string) error {
	info, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("server: socket %s: %w", path, err)
	}
	if info.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("server: %s exists and is not a socket", path)
	}
	c, err := net.DialTimeout("unix", path, probeTimeout)
	if err == nil {
		c.Close()
		return fmt.Errorf("server: socket %s is in use by a live server", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("server: socket %s: cannot tell whether a server is live: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("server: remove stale socket %s: %w", path, err)
	}
	return nil
}
