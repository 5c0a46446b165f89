package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// Redialing: a Redialer is what generated clients hold. It is a Conn that
// is replaced when it breaks, by these rules:
//
//   - A unary call (typed or untyped) that finds the connection broken, or
//     fails because it broke before any byte of the call's request was
//     written (ErrNotSent: see unsent.go for when a call counts as
//     written), dials a new connection and makes the call there, once. The
//     server closing an idle connection, or restarting on the same path,
//     is such a break: the next call goes through.
//   - A call that was written is never sent again: it fails with the
//     connection's error, and the next call redials.
//   - When a redial fails, the next ones wait out a back-off: the calls
//     before it fail at once, without dialing, with an error saying when
//     the next attempt is due. The back-off starts at RedialBackoffMin and
//     doubles with each failed redial up to RedialBackoffMax; a successful
//     dial resets it.
//   - Streams are not redialled: a stream whose connection breaks ends
//     with that error. Opening a stream redials a broken connection first
//     (nothing was sent on it).
//   - Close ends it: nothing redials afterwards.
//   - Options.NoRedial turns all of this off: the first connection is the
//     only one, as with a Conn.
//
// Redialing happens in the calling goroutine, bounded by the call's context
// and DialTimeout; concurrent calls that find the same broken connection
// wait (bounded by their contexts) for one redial and share its result.

// Back-off bounds of redialing.
const (
	RedialBackoffMin = 100 * time.Millisecond
	RedialBackoffMax = 5 * time.Second
)

// redialBackoffMin is RedialBackoffMin; tests shorten or lengthen it.
var redialBackoffMin = RedialBackoffMin

// Caller is what generated methods call through: a *Conn, or a *Redialer.
type Caller interface {
	Invoke(ctx context.Context, info *CallInfo, req msgp.Marshaler, resp msgp.Unmarshaler) error
	OpenStream(ctx context.Context, info *CallInfo, req msgp.Marshaler) (*Stream, error)
}

// Redialer is a connection to the server at one path that redials when the
// connection breaks (see the rules above); safe for concurrent use.
type Redialer struct {
	path string
	opts Options
	lock chan struct{} // held (a token in it) while redialing; bounded waits

	cur atomic.Pointer[Conn] // the current connection; replaced under mu

	mu     sync.Mutex
	closed bool
	fails  int       // redials failed in a row
	next   time.Time // no redial before this, after fails > 0
	last   error     // the last failed redial's error
}

// NewRedialer dials path (as DialContext does, with its errors) and
// returns a Redialer on that connection.
func NewRedialer(ctx context.Context, path string, opts Options) (*Redialer, error) {
	c, err := DialContext(ctx, path, opts)
	if err != nil {
		return nil, err
	}
	r := &Redialer{path: path, opts: opts, lock: make(chan struct{}, 1)}
	r.cur.Store(c)
	return r, nil
}

// Conn returns the current connection (a later call may replace it).
func (r *Redialer) Conn() *Conn {
	return r.cur.Load()
}

// Close closes the current connection; calls in flight fail, later calls
// fail at once and nothing redials.
func (r *Redialer) Close() error {
	r.mu.Lock()
	r.closed = true
	c := r.cur.Load()
	r.mu.Unlock()
	return c.Close()
}

// Invoke is Conn.Invoke, redialing by the rules above. It is do without
// do's closure: every call of a typed client comes through here.
func (r *Redialer) Invoke(ctx context.Context, info *CallInfo, req msgp.Marshaler, resp msgp.Unmarshaler) error {
	c, redialled, err := r.usable(ctx)
	if err != nil {
		return err
	}
	if err = c.Invoke(ctx, info, req, resp); err == nil {
		return nil
	}
	if c, err = r.again(ctx, c, redialled, err); c == nil {
		return err
	}
	return c.Invoke(ctx, info, req, resp)
}

// CallContext is Conn.CallContext, redialing by the rules above.
func (r *Redialer) CallContext(ctx context.Context, t ipc.MsgType, payload any) (h ipc.Header, body []byte, err error) {
	err = r.do(ctx, func(c *Conn) error {
		h, body, err = c.CallContext(ctx, t, payload)
		return err
	})
	return h, body, err
}

// Call is CallContext without a context.
func (r *Redialer) Call(t ipc.MsgType, payload any) (ipc.Header, []byte, error) {
	return r.CallContext(context.Background(), t, payload)
}

// OpenStream is Conn.OpenStream on a usable connection: a broken one is
// redialled first. The stream itself is never redialled.
func (r *Redialer) OpenStream(ctx context.Context, info *CallInfo, req msgp.Marshaler) (*Stream, error) {
	c, _, err := r.usable(ctx)
	if err != nil {
		return nil, err
	}
	return c.OpenStream(ctx, info, req)
}

// Stream is Conn.Stream (cliwrap's untyped stream start) on a usable
// connection, which is dedicated to the stream from then on: unary calls
// after it fail as on a Conn until the stream's connection breaks, when
// the next one redials. Read the frames with ReadFrame.
func (r *Redialer) Stream(t ipc.MsgType, payload any) error {
	c, _, err := r.usable(context.Background())
	if err != nil {
		return err
	}
	return c.Stream(t, payload)
}

// ReadFrame is Conn.ReadFrame on the current connection.
func (r *Redialer) ReadFrame() (ipc.Header, []byte, error) { return r.Conn().ReadFrame() }

// do runs call on the current connection, or on a new one when it is
// broken; a call that failed unsent gets the one redial a call may make.
func (r *Redialer) do(ctx context.Context, call func(*Conn) error) error {
	c, redialled, err := r.usable(ctx)
	if err != nil {
		return err
	}
	if err = call(c); err == nil {
		return nil
	}
	if c, err = r.again(ctx, c, redialled, err); c == nil {
		return err
	}
	return call(c)
}

// again returns the connection a call that failed with err on c is made
// again on, once, by the rules above; nil and the error to return when
// it is not made again.
func (r *Redialer) again(ctx context.Context, c *Conn, redialled bool, err error) (*Conn, error) {
	if redialled || !errors.Is(err, ErrNotSent) || ctx.Err() != nil {
		return nil, err
	}
	c2, derr := r.redial(ctx, c)
	if derr != nil {
		return nil, derr
	}
	if c2 == c { // NoRedial, or closed
		return nil, err
	}
	return c2, nil
}

// usable returns the current connection, redialing first when it is
// broken; redialled says it did.
func (r *Redialer) usable(ctx context.Context) (c *Conn, redialled bool, err error) {
	c = r.Conn()
	if !c.broken.Load() {
		return c, false, nil
	}
	c2, err := r.redial(ctx, c)
	return c2, c2 != c, err
}

// redial replaces broken, unless another call already did, and returns
// the connection to use; with NoRedial or after Close it returns broken
// itself (whose calls fail with its error).
func (r *Redialer) redial(ctx context.Context, broken *Conn) (*Conn, error) {
	select {
	case r.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("client: redial %s: %w", r.path, ctx.Err())
	}
	defer func() { <-r.lock }()
	r.mu.Lock()
	cur, closed, next, last, fails := r.cur.Load(), r.closed, r.next, r.last, r.fails
	r.mu.Unlock()
	switch {
	case cur != broken:
		return cur, nil // another call redialled
	case closed || r.opts.NoRedial:
		return broken, nil
	case fails > 0 && time.Now().Before(next):
		return nil, fmt.Errorf("client: redial %s: %d attempts failed, the next is due in %v: %w",
			r.path, fails, time.Until(next).Round(time.Millisecond), last)
	}
	c, err := DialContext(ctx, r.path, r.opts)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil { // a dial cut short by the caller is no failure of the server's
			r.fails++
			r.next = time.Now().Add(redialBackoff(r.fails))
			r.last = err
		}
		return nil, err
	}
	if r.closed {
		c.Close()
		return broken, nil
	}
	r.fails, r.last = 0, nil
	r.cur.Store(c)
	broken.Close()
	return c, nil
}

// redialBackoff is the pause after fails failed redials in a row.
func redialBackoff(fails int) time.Duration {
	return min(redialBackoffMin<<min(fails-1, 16), max(RedialBackoffMax, redialBackoffMin))
}
