package supervisor

import (
	"bytes"
	"context"
	"sync"
)

// chunk is one read from a child's pipe and the instant it arrived.
type chunk struct {
	at   int64 // Unix nanoseconds
	data []byte
}

// ring keeps the most recent output of one stream, bounded by bytes, as a
// queue of chunks. Followers receive every chunk appended after they
// subscribed through a bounded queue; a follower whose queue is full is
// disconnected, so the capture goroutine never blocks.
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
		select {
		case f.ch <- c.data:
		default:
			r.dropLocked(f, ErrSlowFollower)
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
// that no chunk is lost or repeated between the two.
func (r *ring) follow(since int64, lines, queue int) ([]byte, *Follower) {
	f := &Follower{r: r, ch: make(chan []byte, queue), done: make(chan struct{})}
	r.mu.Lock()
	defer r.mu.Unlock()
	snap := r.snapshotLocked(since, lines)
	if r.closed {
		f.err = ErrClosed
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
	r    *ring
	ch   chan []byte
	done chan struct{} // closed when disconnected; err is then set
	err  error         // guarded by r.mu until done is closed
	stop func() bool   // unregisters the context hook; guarded by r.mu
	once sync.Once
}

// Next returns the next chunk of output, waiting for it if needed. Chunks
// queued before a disconnect are still returned; after them Next returns
// ErrSlowFollower when the follower fell more than its queue behind,
// ErrClosed when it was closed or the supervisor shut down, or ctx.Err().
func (f *Follower) Next(ctx context.Context) ([]byte, error) {
	select {
	case b := <-f.ch:
		return b, nil
	default:
	}
	select {
	case b := <-f.ch:
		return b, nil
	case <-f.done:
		select {
		case b := <-f.ch:
			return b, nil
		default:
			return nil, f.err
		}
	case <-ctx.Done():
		return nil, ctx.Err()
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
