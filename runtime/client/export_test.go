package client

import (
	"time"

	"golang.org/x/sys/unix"
)

// PeerClosed reports whether the server has closed c's connection: an end
// of file waits on the socket. It reads nothing.
func PeerClosed(c *Conn) bool {
	if c.raw == nil {
		return false
	}
	closed := false
	c.raw.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		closed = n == 0 && err == nil
		return true
	})
	return closed
}

// SetRedialBackoffMin sets the first back-off of Redialers made from now
// on; it returns a func restoring it.
func SetRedialBackoffMin(d time.Duration) (restore func()) {
	old := redialBackoffMin
	redialBackoffMin = d
	return func() { redialBackoffMin = old }
}

// Draining reports whether c's drain goroutine holds the reading role.
func Draining(c *Conn) bool { return c.draining.Load() }
