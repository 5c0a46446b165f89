package supervisor

import (
	"fmt"
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

// allEventTypes are the types an event can have, for filters.
var allEventTypes = []string{EventRegistered, EventStarting, EventStarted, EventStopping,
	EventStopped, EventCrashed, EventRestarting, EventFailed}

// Filter limits of Subscribe, the schema's limits on EventsSubscribePayload
// (schema/mgmt.yaml: max_items, and max_len of ProcessIDs and Types), so that
// the supervisor holds no larger filter than the wire can carry.
const (
	MaxFilterItems = 65536 // process ids, and types, per subscription
	MaxFilterIDLen = 4096  // bytes of one process id
	MaxFilterType  = 256   // bytes of one type
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
//
// Its filters are sets of the supervisor's own strings (ids of configured
// processes, known event types): a filter costs one lookup per event and
// memory bounded by the configuration, whatever the request held, and
// keeps nothing of the request alive.
type Subscription struct {
	bus     *bus
	pids    filter
	types   filter
	ch      chan Event
	dropped atomic.Uint64
}

// filter is a set of accepted values; all accepts everything.
type filter struct {
	all bool
	set map[string]struct{}
}

func (f filter) has(v string) bool {
	if f.all {
		return true
	}
	_, ok := f.set[v]
	return ok
}

// newFilter keeps the values of want that known maps to one of its own
// strings, checking count and length; an empty want accepts everything.
func newFilter(what string, want []string, maxLen int, known func(string) (string, bool)) (filter, error) {
	if len(want) == 0 {
		return filter{all: true}, nil
	}
	if len(want) > MaxFilterItems {
		return filter{}, fmt.Errorf("%w: %d %s, at most %d", ErrFilter, len(want), what, MaxFilterItems)
	}
	f := filter{set: make(map[string]struct{})}
	for _, v := range want {
		if len(v) > maxLen {
			return filter{}, fmt.Errorf("%w: one of the %s has %d bytes, at most %d", ErrFilter, what, len(v), maxLen)
		}
		if own, ok := known(v); ok {
			f.set[own] = struct{}{}
		}
	}
	return f, nil
}

// C returns the channel of events. It is closed by Close and by Shutdown.
func (s *Subscription) C() <-chan Event { return s.ch }

// Dropped returns how many matching events were dropped because the queue
// was full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close ends the subscription and closes C. It is safe to call more than once.
func (s *Subscription) Close() { s.bus.remove(s) }

func (s *Subscription) matches(e Event) bool {
	return s.pids.has(e.ProcessID) && s.types.has(e.Type)
}

// knownType maps an event type to the package's own string.
func knownType(t string) (string, bool) {
	for _, k := range allEventTypes {
		if k == t {
			return k, true
		}
	}
	return "", false
}

// bus fans events out to subscriptions.
type bus struct {
	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	closed bool
}

func newBus() *bus { return &bus{subs: make(map[*Subscription]struct{})} }

func (b *bus) subscribe(pids, types filter, queue int) (*Subscription, error) {
	if queue <= 0 {
		queue = DefaultEventQueue
	}
	queue = min(queue, MaxEventQueue)
	s := &Subscription{bus: b, pids: pids, types: types, ch: make(chan Event, queue)}
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
