package server

import "time"

// SetRefuseTimeout changes the time a refused connection has to send its
// first request, until the test ends.
func SetRefuseTimeout(t interface{ Cleanup(func()) }, d time.Duration) {
	old := refuseTimeout
	refuseTimeout = d
	t.Cleanup(func() { refuseTimeout = old })
}
