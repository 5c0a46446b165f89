package server

import "time"

// inlineBudget is how long one request may be served inline before another
// goroutine takes over reading the connection (it happens after one to two
// budgets). It is also the period of the hand-off timer while inline calls
// are being served, which is why it is not shorter.
const inlineBudget = time.Millisecond

// serveInline serves a unary request in the reader goroutine, which saves a
// goroutine hand-off (and the wake-up of another thread) on the common
// one-request-at-a-time exchange. If the call is slow, watch starts a new
// reader so that later requests and a departing client are still noticed.
// It reports whether this goroutine still holds the reading role.
func (c *conn) serveInline(r request) bool {
	c.wg.Add(1)
	defer c.wg.Done()
	g := c.turn.Add(1) // odd: serving inline
	if c.watched.CompareAndSwap(false, true) {
		c.watchGen.Store(g)
		c.handoff.Reset(inlineBudget)
	}
	c.serveUnary(r)
	return c.turn.CompareAndSwap(g, g+1)
}

// watch is the hand-off timer's function. The timer is not reset per
// request (a timer update can wake an idle thread): it stays armed while
// inline calls keep coming and fires once per budget. An inline call seen
// at two firings in a row has run at least one budget: watch then claims
// the reading role and reads the connection itself.
func (c *conn) watch() {
	g := c.turn.Load()
	if g%2 == 1 {
		if g == c.watchGen.Load() && c.turn.CompareAndSwap(g, g+1) {
			c.watched.Store(false)
			c.readLoop()
			return
		}
		c.watchGen.Store(g)
		c.handoff.Reset(inlineBudget)
		return
	}
	c.watched.Store(false)
	// An inline call that began after the Load found the timer armed and
	// left it alone: watch it.
	if g := c.turn.Load(); g%2 == 1 && c.watched.CompareAndSwap(false, true) {
		c.watchGen.Store(g)
		c.handoff.Reset(inlineBudget)
	}
}
