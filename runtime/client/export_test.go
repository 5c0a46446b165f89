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

// SetDrainDelay sets how long c's reading role stays unheld while mux
// streams are open before the drain goroutine takes it (drainDelay), from
// the next time it is let go (and for a drain timer pending now).
func SetDrainDelay(c *Conn, d time.Duration) {
	c.mu.Lock()
	c.drainDelay = d
	if c.drainTimer != nil && c.drainTimer.Stop() {
		c.drainTimer.Reset(d)
	}
	c.mu.Unlock()
}

// Draining reports whether c's drain goroutine holds the reading role.
func Draining(c *Conn) bool { return c.draining.Load() }
