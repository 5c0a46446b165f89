package server

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// probeTimeout bounds the dial that tells a live socket from a stale one.
const probeTimeout = time.Second

// listenUnix prepares path and listens on it: the directory is created 0700
// when missing, a live server's socket is never touched, a stale socket file
// is replaced, and the new socket is made 0600.
func listenUnix(path string) (net.Listener, *socketFile, error) {
	if path == "" {
		return nil, nil, errors.New("server: no socket path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, nil, fmt.Errorf("server: socket directory: %w", err)
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

// bindPrivate listens on a socket that is never reachable with looser
// permissions than 0600: it binds inside a fresh 0700 directory next to
// path, chmods the socket, then hard-links it to path, which fails rather
// than replace a file that appeared there meanwhile. When the private name
// would be too long for a socket address, it binds at path and chmods it
// (a window of umask permissions, inside the 0700 directory Start creates).
func bindPrivate(path string) (*net.UnixListener, error) {
	dir, err := os.MkdirTemp(filepath.Dir(path), ".bind-")
	if err != nil {
		return nil, fmt.Errorf("server: socket directory: %w", err)
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "s")
	if len(tmp) >= maxSocketPath {
		return bindAt(path, path)
	}
	l, err := bindAt(tmp, path)
	if err != nil {
		return nil, err
	}
	if err := os.Link(tmp, path); err != nil {
		l.Close()
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("server: socket %s appeared while starting; another server is starting there", path)
		}
		return nil, fmt.Errorf("server: socket %s: %w", path, err)
	}
	return l, nil
}

// maxSocketPath is the size of sockaddr_un's sun_path on Linux.
const maxSocketPath = 108

// bindAt listens at name and makes it 0600; path names the socket in errors.
func bindAt(name, path string) (*net.UnixListener, error) {
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: name, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("server: listen on %s: %w", path, err)
	}
	// Close removes the file itself, and only while it is still ours.
	l.SetUnlinkOnClose(false)
	if err := os.Chmod(name, 0o600); err != nil {
		l.Close()
		os.Remove(name)
		return nil, fmt.Errorf("server: socket %s: %w", path, err)
	}
	return l, nil
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
