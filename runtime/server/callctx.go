package server

import (
	"context"
	"slices"
	"sync"
	"time"
)

// callCtx is the handler's context of a call that came with a CallHeader
// (envelope.go): the connection's context plus the call's deadline and
// metadata, ended by the call's Cancel, by the end of the call, by its
// deadline or by the connection's end, whichever comes first.
//
// context.WithCancel + WithTimeout + WithValue cost such a call a timer, a
// channel and about ten allocations, most handlers never looking at any of
// it. A callCtx is one allocation. It makes its channel, and arms its timer
// and its watch on the connection's context, only when something waits for
// it: a call of Done, or a context derived from it (through AfterFunc, so
// deriving starts no goroutine). Until then Err answers by looking at the
// clock and at the connection's context, so Err and Done always agree:
// once Err has reported an end, Done's channel is closed, and the other
// way round.
type callCtx struct {
	c        *conn
	seq      uint64
	deadline time.Time // zero: none
	md       map[string]string

	mu       sync.Mutex
	err      error         // why it ended; nil while it runs
	done     chan struct{} // made by the first Done (or AfterFunc), closed at the end
	watching bool          // timer and watch are armed
	timer    *time.Timer   // the deadline's, once watching
	stopConn func() bool   // stops the watch on the connection's context
	funcs    []*afterFunc  // AfterFunc's callbacks still to run
}

// afterFunc is one AfterFunc registration (compared by pointer).
type afterFunc struct{ f func() }

// closedChan is the Done of a callCtx that had ended before its first Done.
var closedChan = func() chan struct{} { ch := make(chan struct{}); close(ch); return ch }()

func newCallCtx(c *conn, seq uint64, timeout time.Duration, md map[string]string) *callCtx {
	cc := &callCtx{c: c, seq: seq, md: md}
	if timeout > 0 {
		cc.deadline = time.Now().Add(timeout)
	}
	return cc
}

// Deadline implements context.Context: the call's deadline, if it came
// with one (the connection's context has none).
func (cc *callCtx) Deadline() (time.Time, bool) { return cc.deadline, !cc.deadline.IsZero() }

// Done implements context.Context.
func (cc *callCtx) Done() <-chan struct{} {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.watchLocked()
}

// Err implements context.Context.
func (cc *callCtx) Err() error {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.checkLocked()
	return cc.err
}

// Value implements context.Context: the call's metadata (Metadata), and
// the connection's values. It looks beyond the connection's cancelCtx, so
// that context.Cause(ctx) is ctx.Err() and not the connection's cause.
func (cc *callCtx) Value(key any) any {
	if _, ok := key.(metadataKey); ok {
		if cc.md == nil {
			return nil
		}
		return cc.md
	}
	return cc.c.vals.Value(key)
}

func (cc *callCtx) String() string { return "server.callCtx" }

// AfterFunc arranges for f to run in its own goroutine once cc ends, as
// context.AfterFunc does; context.WithCancel and the like use it for
// contexts derived from cc, so that deriving one starts no goroutine.
func (cc *callCtx) AfterFunc(f func()) (stop func() bool) {
	a := &afterFunc{f: f}
	cc.mu.Lock()
	cc.watchLocked()
	if cc.err != nil {
		cc.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	cc.funcs = append(cc.funcs, a)
	cc.mu.Unlock()
	return func() bool {
		cc.mu.Lock()
		defer cc.mu.Unlock()
		i := slices.Index(cc.funcs, a)
		if i < 0 {
			return false
		}
		cc.funcs = slices.Delete(cc.funcs, i, i+1)
		return true
	}
}

// cancel ends cc with err unless it has ended already.
func (cc *callCtx) cancel(err error) {
	cc.mu.Lock()
	cc.endLocked(err)
	cc.mu.Unlock()
}

// end is the call's end: it forgets the call (a late Cancel finds nothing)
// and ends its context, as the cancel of a context.WithCancel deferred by
// the caller would.
func (cc *callCtx) end() {
	c := cc.c
	c.mu.Lock()
	delete(c.inflight, cc.seq)
	c.mu.Unlock()
	cc.cancel(context.Canceled)
}

// checkLocked ends cc if its deadline has passed or the connection's
// context has ended, for a cc nobody watches yet.
func (cc *callCtx) checkLocked() {
	if cc.err != nil || cc.watching {
		return // the timer and the watch report those ends themselves
	}
	if !cc.deadline.IsZero() && !time.Now().Before(cc.deadline) {
		cc.endLocked(context.DeadlineExceeded)
	} else if err := cc.c.ctx.Err(); err != nil {
		cc.endLocked(err)
	}
}

// watchLocked returns cc's channel, making it and arming the deadline's
// timer and the watch on the connection's context the first time.
func (cc *callCtx) watchLocked() chan struct{} {
	cc.checkLocked()
	if cc.done == nil {
		if cc.err != nil {
			cc.done = closedChan
			return cc.done
		}
		cc.done = make(chan struct{})
	}
	if cc.err == nil && !cc.watching {
		cc.watching = true
		if !cc.deadline.IsZero() {
			cc.timer = time.AfterFunc(time.Until(cc.deadline), func() { cc.cancel(context.DeadlineExceeded) })
		}
		connCtx := cc.c.ctx
		cc.stopConn = context.AfterFunc(connCtx, func() { cc.cancel(connCtx.Err()) })
	}
	return cc.done
}

// endLocked records err as cc's end, closes its channel and starts its
// AfterFunc callbacks; the first end wins.
func (cc *callCtx) endLocked(err error) {
	if cc.err != nil {
		return
	}
	cc.err = err
	if cc.done != nil && cc.done != closedChan {
		close(cc.done)
	}
	for _, a := range cc.funcs {
		go a.f()
	}
	cc.funcs = nil
	if cc.watching {
		// Neither takes cc.mu: the timer's and the watch's callbacks run
		// on goroutines of their own and find cc ended.
		if cc.timer != nil {
			cc.timer.Stop()
		}
		cc.stopConn()
	}
}

// inlineable reports whether a call with this envelope (nil: none) may be
// served on the reader (see "Inline calls" in conn.go): one without a
// CallHeader, or one whose header has a deadline. While a call runs inline
// the reader reads nothing, so its Cancel waits behind it; a deadline
// bounds how long that can matter to a handler that honours its context. A
// call that can end only by its Cancel (no deadline) runs on a handler
// goroutine, so that the reader reads its Cancel at once.
func (cc *callCtx) inlineable() bool { return cc == nil || !cc.deadline.IsZero() }
