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
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, nil, fmt.Errorf("server: listen: %w", err)
	}
	// Close removes the file itself, and only while it is still ours.
	l.SetUnlinkOnClose(false)
	info, err := os.Lstat(path)
	if err == nil {
		err = os.Chmod(path, 0o600)
	}
	if err != nil {
		l.Close()
		os.Remove(path)
		return nil, nil, fmt.Errorf("server: socket %s: %w", path, err)
	}
	return l, &socketFile{path: path, info: info}, nil
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
