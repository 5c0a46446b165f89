package supervisor

import (
	"bytes"
	"context"
	"fmt"
	"sync"
)

// chunk is one read from a child's pipe and the instant it arrived.
type chunk struct {
	at   int64 // Unix nanoseconds
	data []byte
}

// ring keeps the most recent output of one stream, bounded by bytes, as a
// queue of chunks. Followers receive every chunk appended after they
// subscribed through a queue bounded by bytes; a follower whose queue would
// exceed its bound is disconnected, so the capture goroutine never blocks
// and a follower that does not read holds at most its bound of output.
type ring struct {
	mu        sync.Mutex
	max       int
	size      int
	chunks    []chunk
	followers map[*Follower]struct{}
	closed    bool
}

func newRing(max int) *ring {
	return &ring{max: max, followers: make(map[*Follower]struct{})}
}

// append stores a copy of data, evicting the oldest chunks so that the total
// stays within max bytes. A single chunk larger than max keeps its tail.
func (r *ring) append(at int64, data []byte) {
	if len(data) == 0 {
		return
	}
	if len(data) > r.max {
		data = data[len(data)-r.max:]
	}
	c := chunk{at: at, data: bytes.Clone(data)}
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.size+len(c.data) > r.max {
		r.size -= len(r.chunks[0].data)
		r.chunks[0] = chunk{}
		r.chunks = r.chunks[1:]
	}
	r.chunks = append(r.chunks, c)
	r.size += len(c.data)
	for f := range r.followers {
		if f.queued+len(c.data) > f.max {
			r.dropLocked(f, fmt.Errorf("%w: %d bytes queued, %d more arrived, over the %d bytes a follower may fall behind",
				ErrSlowFollower, f.queued, len(c.data), f.max))
			continue
		}
		f.queue = append(f.queue, c.data)
		f.queued += len(c.data)
		select {
		case f.ready <- struct{}{}:
		default:
		}
	}
}

// snapshotLocked returns the buffered bytes of chunks that arrived at or
// after since (0: all), cut to the last lines lines (0: all).
func (r *ring) snapshotLocked(since int64, lines int) []byte {
	var buf []byte
	for _, c := range r.chunks {
		if c.at >= since {
			buf = append(buf, c.data...)
		}
	}
	if buf == nil {
		buf = []byte{}
	}
	return lastLines(buf, lines)
}

func (r *ring) snapshot(since int64, lines int) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.snapshotLocked(since, lines)
}

// follow returns a snapshot and a follower registered atomically with it, so
// that no chunk is lost or repeated between the two. The follower may fall
// up to maxQueued bytes behind.
func (r *ring) follow(since int64, lines, maxQueued int) ([]byte, *Follower) {
	f := &Follower{r: r, max: maxQueued, ready: make(chan struct{}, 1), done: make(chan struct{})}
	r.mu.Lock()
	defer r.mu.Unlock()
	snap := r.snapshotLocked(since, lines)
	if r.closed {
		f.err, f.dropped = ErrClosed, true
		close(f.done)
		return snap, f
	}
	r.followers[f] = struct{}{}
	return snap, f
}

func (r *ring) dropLocked(f *Follower, err error) {
	if _, ok := r.followers[f]; !ok {
		return
	}
	delete(r.followers, f)
	f.err = err
	f.dropped = true
	close(f.done)
}

// close disconnects every follower with ErrClosed and refuses new ones.
func (r *ring) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for f := range r.followers {
		r.dropLocked(f, ErrClosed)
	}
}

// lastLines returns the suffix of b holding its last n lines; a final line
// without a newline counts as a line. n <= 0 returns b.
func lastLines(b []byte, n int) []byte {
	if n <= 0 {
		return b
	}
	end := len(b)
	if end > 0 && b[end-1] == '\n' {
		end--
	}
	for i := end - 1; i >= 0; i-- {
		if b[i] == '\n' {
			n--
			if n == 0 {
				return b[i+1:]
			}
		}
	}
	return b
}

// Follower receives new output of one stream of one process. It is created
// by Supervisor.Follow and must be closed with Close.
type Follower struct {
	r     *ring
	max   int           // most bytes queued
	ready chan struct{} // signalled when the queue grows
	done  chan struct{} // closed when disconnected; err is then set

	// Guarded by r.mu.
	queue   [][]byte
	queued  int  // bytes in queue
	dropped bool // disconnected: done is closed
	err     error
	stop    func() bool // unregisters the context hook
	once    sync.Once
}

// Next returns the next chunk of output, waiting for it if needed. Chunks
// queued before a disconnect are still returned; after them Next returns an
// error wrapping ErrSlowFollower (saying how far behind it was) when the
// follower fell more than its bound of bytes behind, ErrClosed when it was
// closed or the supervisor shut down, or ctx.Err().
func (f *Follower) Next(ctx context.Context) ([]byte, error) {
	for {
		f.r.mu.Lock()
		if len(f.queue) > 0 {
			b := f.queue[0]
			f.queue[0] = nil
			f.queue = f.queue[1:]
			f.queued -= len(b)
			f.r.mu.Unlock()
			return b, nil
		}
		if f.dropped {
			err := f.err
			f.r.mu.Unlock()
			return nil, err
		}
		f.r.mu.Unlock()
		select {
		case <-f.ready:
		case <-f.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Close unregisters the follower. It is safe to call more than once and
// concurrently with Next.
func (f *Follower) Close() {
	f.once.Do(func() {
		f.r.mu.Lock()
		defer f.r.mu.Unlock()
		if f.stop != nil {
			f.stop()
		}
		f.r.dropLocked(f, ErrClosed)
	})
}
