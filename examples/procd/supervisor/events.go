package supervisor

import (
	"slices"
	"sync"
	"sync/atomic"
)

// Event types, as they travel in EventsStreamPayload.Type.
const (
	EventRegistered = "process.registered" // configured; emitted once by New
	EventStarting   = "process.starting"   // about to spawn the child
	EventStarted    = "process.started"    // child running; summary holds its pid
	EventStopping   = "process.stopping"   // Stop or Shutdown sent SIGTERM to the group
	EventStopped    = "process.stopped"    // stopped on request, or exited with status 0
	EventCrashed    = "process.crashed"    // exited non-zero, killed by a signal, or failed to spawn
	EventRestarting = "process.restarting" // a restart is scheduled; summary holds the delay
	EventFailed     = "process.failed"     // gave up after max_restarts
)

// Subscription queue lengths: DefaultEventQueue is used when Subscribe is
// given a queue <= 0; larger queues are cut to MaxEventQueue.
const (
	DefaultEventQueue = 256
	MaxEventQueue     = 1 << 16
)

// Event is one lifecycle event of one process.
type Event struct {
	ProcessID string
	Type      string // one of the Event* constants
	Timestamp int64  // Unix nanoseconds
	Summary   string // one line for humans
}

// Subscription receives the events that match its filters. Delivery never
// blocks the supervisor: when the queue is full the event is dropped for this
// subscriber only and counted (see Dropped). Other subscribers are unaffected.
type Subscription struct {
	bus     *bus
	pids    []string
	types   []string
	ch      chan Event
	dropped atomic.Uint64
}

// C returns the channel of events. It is closed by Close and by Shutdown.
func (s *Subscription) C() <-chan Event { return s.ch }

// Dropped returns how many matching events were dropped because the queue
// was full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close ends the subscription and closes C. It is safe to call more than once.
func (s *Subscription) Close() { s.bus.remove(s) }

func (s *Subscription) matches(e Event) bool {
	return (len(s.pids) == 0 || slices.Contains(s.pids, e.ProcessID)) &&
		(len(s.types) == 0 || slices.Contains(s.types, e.Type))
}

// bus fans events out to subscriptions.
type bus struct {
	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	closed bool
}

func newBus() *bus { return &bus{subs: make(map[*Subscription]struct{})} }

func (b *bus) subscribe(pids, types []string, queue int) (*Subscription, error) {
	if queue <= 0 {
		queue = DefaultEventQueue
	}
	queue = min(queue, MaxEventQueue)
	s := &Subscription{bus: b, pids: slices.Clone(pids), types: slices.Clone(types),
		ch: make(chan Event, queue)}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	b.subs[s] = struct{}{}
	return s, nil
}

// publish delivers e to every matching subscription without blocking.
// Calls for one process come from one goroutine, so each subscriber sees a
// process's events in order.
func (b *bus) publish(e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		if !s.matches(e) {
			continue
		}
		select {
		case s.ch <- e:
		default:
			s.dropped.Add(1)
		}
	}
}

func (b *bus) remove(s *Subscription) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[s]; ok {
		delete(b.subs, s)
		close(s.ch)
	}
}

// close closes every subscription and refuses new ones.
func (b *bus) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for s := range b.subs {
		delete(b.subs, s)
		close(s.ch)
	}
}
