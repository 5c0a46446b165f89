package server

import "time"

// inlineBudget is how long the reader serves a request inline before
// another goroutine takes over reading the connection.
const inlineBudget = 50 * time.Microsecond

// serveInline serves a unary request in the reader goroutine, which saves a
// goroutine hand-off on the common one-request-at-a-time exchange. If the
// call outlasts inlineBudget, takeOver starts a new reader so that later
// requests and a departing client are still noticed. It reports whether
// this goroutine still holds the reading role.
func (c *conn) serveInline(r request) bool {
	c.wg.Add(1)
	defer c.wg.Done()
	g := c.turn.Add(1) // odd: serving inline
	c.handoff.Reset(inlineBudget)
	c.serveUnary(r)
	if !c.turn.CompareAndSwap(g, g+1) {
		return false // handed off: the timer is the new reader's now
	}
	c.handoff.Stop()
	return true
}

// takeOver runs when an inline call is slow: it claims the reading role
// (unless the call ended first) and reads the connection.
func (c *conn) takeOver() {
	g := c.turn.Load()
	if g%2 == 1 && c.turn.CompareAndSwap(g, g+1) {
		c.readLoop()
	}
}
