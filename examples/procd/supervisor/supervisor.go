// Package supervisor runs and watches the child processes of procd.
//
// It is independent of the management wire: the gen/mgmt adapter maps each
// Handler method onto one method here (List, Status, Start, Stop, Snapshot,
// Follow, Subscribe). Every child runs in its own process group; its stdout
// and stderr are kept apart in byte-bounded ring buffers of time-stamped
// chunks. See examples/procd/README.md for the configuration and behaviour.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// State is the lifecycle state of a process.
type State string

// Process states.
const (
	StateRegistered State = "registered" // configured, never started
	StateStarting   State = "starting"   // being spawned
	StateRunning    State = "running"    // child alive
	StateStopping   State = "stopping"   // SIGTERM sent, waiting for exit
	StateStopped    State = "stopped"    // stopped on request or exited with status 0
	StateCrashed    State = "crashed"    // exited otherwise; a restart may be pending
	StateFailed     State = "failed"     // gave up after max_restarts
)

// Log streams, as numbered on the wire.
const (
	StreamStdout = 0
	StreamStderr = 1
)

// DefaultFollowBytes is how many bytes of output a log follower may fall
// behind before it is disconnected with ErrSlowFollower: a follower that
// never reads holds at most this much.
const DefaultFollowBytes = 1 << 20

// Errors. The texts of ErrUnknownProcess, ErrAlreadyRunning, ErrStopping and
// ErrInvalidStream are wrapped with the process id or stream
// (`unknown process "x"`, `process "x" is already running`) and are meant to
// be shown to remote clients as they are; match them with errors.Is.
var (
	ErrUnknownProcess = errors.New("unknown process")
	ErrAlreadyRunning = errors.New("already running")
	ErrStopping       = errors.New("stopping")
	ErrInvalidStream  = errors.New("invalid log stream")
	ErrClosed         = errors.New("supervisor: closed")
	ErrSlowFollower   = errors.New("supervisor: log follower fell behind and was disconnected")
	ErrFilter         = errors.New("supervisor: events filter too large")
)

// Entry is a snapshot of one process, as List and Status report it.
type Entry struct {
	ID       string
	Name     string
	State    State
	ChildPID int    // 0 when no child is running
	RSS      uint64 // resident set size of the child in bytes; 0 when unknown
	Restarts int    // consecutive restarts so far
	LastExit string // how the last child ended ("exit status 1"), empty before
}

// Supervisor owns the configured processes. Its methods are safe for
// concurrent use.
type Supervisor struct {
	procs []*proc
	byID  map[string]*proc
	bus   *bus
	wg    sync.WaitGroup // supervise loops
	once  sync.Once

	followBytes int // DefaultFollowBytes; smaller in tests
}

// New registers the configured processes without starting them (see
// StartAll). cfg is normally from LoadConfig; zero durations and log_buffer
// of a hand-built ProcessConfig get the package defaults.
func New(cfg *Config) (*Supervisor, error) {
	s := &Supervisor{byID: make(map[string]*proc), bus: newBus(), followBytes: DefaultFollowBytes}
	for _, pc := range cfg.Processes {
		if err := normalize(&pc); err != nil {
			return nil, err
		}
		if _, dup := s.byID[pc.ID]; dup {
			return nil, fmt.Errorf("supervisor: duplicate process id %q", pc.ID)
		}
		p := &proc{cfg: pc, bus: s.bus, wg: &s.wg, state: StateRegistered,
			streams: [2]*ring{newRing(pc.LogBuffer), newRing(pc.LogBuffer)},
			marker:  fmt.Appendf(nil, "\x00%s=%d/%s\x00", MarkerEnv, os.Getpid(), pc.ID)}
		s.procs = append(s.procs, p)
		s.byID[pc.ID] = p
	}
	for _, p := range s.procs {
		p.transition(StateRegistered, 0, EventRegistered, "registered "+p.cfg.Command)
	}
	return s, nil
}

func normalize(pc *ProcessConfig) error {
	if err := checkID(pc.ID); err != nil {
		return fmt.Errorf("supervisor: %w", err)
	}
	if pc.Command == "" {
		return fmt.Errorf("supervisor: process %q: command is required", pc.ID)
	}
	if pc.Name == "" {
		pc.Name = pc.ID
	}
	if pc.Restart == "" {
		pc.Restart = DefaultRestart
	}
	if pc.Backoff <= 0 {
		pc.Backoff = DefaultBackoff
	}
	if pc.MaxBackoff < pc.Backoff {
		pc.MaxBackoff = max(pc.Backoff, DefaultMaxBackoff)
	}
	if pc.StopTimeout <= 0 {
		pc.StopTimeout = DefaultStopTimeout
	}
	if pc.LogBuffer <= 0 {
		pc.LogBuffer = DefaultLogBuffer
	}
	return nil
}

func (s *Supervisor) lookup(id string) (*proc, error) {
	p, ok := s.byID[id]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownProcess, id)
	}
	return p, nil
}

// List returns every process in configuration order.
func (s *Supervisor) List() []Entry {
	out := make([]Entry, 0, len(s.procs))
	for _, p := range s.procs {
		out = append(out, p.entry())
	}
	return out
}

// Status returns one process, or an error wrapping ErrUnknownProcess.
func (s *Supervisor) Status(id string) (Entry, error) {
	p, err := s.lookup(id)
	if err != nil {
		return Entry{}, err
	}
	return p.entry(), nil
}

func (p *proc) entry() Entry {
	p.mu.Lock()
	e := Entry{ID: p.cfg.ID, Name: p.cfg.Name, State: p.state, ChildPID: p.pid,
		Restarts: p.restarts, LastExit: p.lastExit}
	p.mu.Unlock()
	if e.ChildPID > 0 {
		e.RSS = p.rss.get(e.ChildPID)
	}
	return e
}

// MarkerEnv names the variable in every child's environment that ties the
// child's descendants to it ("<procd pid>/<process id>"): Stop and the end
// of a run kill every process that carries it, and every process descended
// from the child through parent links, setsid'd ones included.
const MarkerEnv = "PROCD_SUPERVISED"

// RSSMaxAge is the oldest a reported RSS may be: a child's RSS is read from
// /proc at most once per RSSMaxAge (reading statm costs more than a whole
// Status round trip), and Status reports the last reading meanwhile.
const RSSMaxAge = time.Second

// rssCache is the last RSS reading of a process's child.
type rssCache struct {
	mu  sync.Mutex
	pid int       // the child it was read for
	at  time.Time // when; monotonic
	rss uint64
}

// get returns pid's RSS, read again when the cached reading is of another
// child or older than RSSMaxAge.
func (c *rssCache) get(pid int) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := time.Now(); c.pid != pid || now.Sub(c.at) >= RSSMaxAge {
		c.pid, c.at, c.rss = pid, now, readRSS(pid)
	}
	return c.rss
}

// readRSS reads the resident set size of pid from /proc/<pid>/statm; 0 when
// it cannot be read.
func readRSS(pid int) uint64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * uint64(os.Getpagesize())
}

// Start starts a process that is not running and returns once its child has
// been spawned (state running), or with the spawn error (state crashed, a
// restart following the policy). Starting a process that is crashed and
// waiting for a restart restarts it at once. Starting resets the restart
// count. Errors wrap ErrUnknownProcess, ErrAlreadyRunning (starting or
// running), ErrStopping or ErrClosed.
func (s *Supervisor) Start(id string) error {
	p, err := s.lookup(id)
	if err != nil {
		return err
	}
	w := make(chan error, 1)
	p.mu.Lock()
	r := p.run
	switch {
	case p.closed:
		p.mu.Unlock()
		return ErrClosed
	case r == nil:
		r = &run{stop: make(chan struct{}), wake: make(chan struct{}, 1), done: make(chan struct{})}
		p.run, p.restarts = r, 0
		p.wg.Add(1)
		go p.supervise(r)
	case r.stopReq:
		p.mu.Unlock()
		return fmt.Errorf("process %q is %w", id, ErrStopping)
	case p.state == StateStarting || p.state == StateRunning:
		p.mu.Unlock()
		return fmt.Errorf("process %q is %w", id, ErrAlreadyRunning)
	default: // between runs, a restart pending
		p.restarts = 0
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
	r.waiters = append(r.waiters, w)
	p.mu.Unlock()
	return <-w
}

// StartAll starts every process and returns the errors joined.
func (s *Supervisor) StartAll() error {
	var errs []error
	for _, p := range s.procs {
		if err := s.Start(p.cfg.ID); err != nil && !errors.Is(err, ErrAlreadyRunning) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Stop stops a process: SIGTERM to its process group, SIGKILL after
// stop_timeout; a pending restart is cancelled. It returns once the process
// is stopped, or with ctx.Err() (the stop then still completes in the
// background). Stopping a process that is not running is a no-op.
func (s *Supervisor) Stop(ctx context.Context, id string) error {
	p, err := s.lookup(id)
	if err != nil {
		return err
	}
	p.mu.Lock()
	r := p.run
	if r == nil {
		p.mu.Unlock()
		return nil
	}
	requestStop(r)
	p.mu.Unlock()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func requestStop(r *run) {
	if !r.stopReq {
		r.stopReq = true
		close(r.stop)
	}
}

// Shutdown stops every process as Stop does, all at once, and refuses
// further starts. When ctx ends first, the remaining process groups get
// SIGKILL; Shutdown still waits for them to be reaped and then returns
// ctx.Err(). Afterwards log followers and event subscriptions are closed.
// Later calls wait for the first to finish and return nil.
func (s *Supervisor) Shutdown(ctx context.Context) error {
	err := ErrClosed
	s.once.Do(func() { err = s.shutdown(ctx) })
	if errors.Is(err, ErrClosed) {
		return nil
	}
	return err
}

func (s *Supervisor) shutdown(ctx context.Context) error {
	for _, p := range s.procs {
		p.mu.Lock()
		p.closed = true
		if p.run != nil {
			requestStop(p.run)
		}
		p.mu.Unlock()
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		s.killAll()
		<-done
	}
	for _, p := range s.procs {
		p.streams[StreamStdout].close()
		p.streams[StreamStderr].close()
	}
	s.bus.close()
	return err
}

// killAll sends SIGKILL to every live process group, at once or (for a run
// still about to send SIGTERM) instead of SIGTERM.
func (s *Supervisor) killAll() {
	for _, p := range s.procs {
		p.mu.Lock()
		if p.run != nil {
			p.run.hardKill = true
		}
		if p.pid > 0 {
			_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		}
		p.mu.Unlock()
	}
}

// Snapshot returns the buffered output of one stream of a process: only
// chunks that arrived at or after sinceUnixNano (0: all), then only the last
// lastLines lines (0: all). It is never nil.
func (s *Supervisor) Snapshot(id string, stream int, sinceUnixNano int64, lastLines int) ([]byte, error) {
	rg, err := s.ring(id, stream)
	if err != nil {
		return nil, err
	}
	return rg.snapshot(sinceUnixNano, lastLines), nil
}

// Follow returns the snapshot (as Snapshot filters it) and a Follower that
// receives every chunk arriving after it. The follower is closed when ctx
// ends or by its Close; it is disconnected with ErrSlowFollower when it falls
// DefaultFollowBytes bytes behind, so a slow reader never holds up the
// child's output capture nor holds more than that much memory.
func (s *Supervisor) Follow(ctx context.Context, id string, stream int, sinceUnixNano int64, lastLines int) ([]byte, *Follower, error) {
	rg, err := s.ring(id, stream)
	if err != nil {
		return nil, nil, err
	}
	snap, f := rg.follow(sinceUnixNano, lastLines, s.followBytes)
	stop := context.AfterFunc(ctx, f.Close)
	rg.mu.Lock()
	f.stop = stop
	rg.mu.Unlock()
	return snap, f, nil
}

func (s *Supervisor) ring(id string, stream int) (*ring, error) {
	p, err := s.lookup(id)
	if err != nil {
		return nil, err
	}
	if stream != StreamStdout && stream != StreamStderr {
		return nil, fmt.Errorf("%w %d (want 0 for stdout or 1 for stderr)", ErrInvalidStream, stream)
	}
	return p.streams[stream], nil
}

// Subscribe returns a subscription to the events whose process id is in pids
// and whose type is in types; an empty list matches everything. queue <= 0
// means DefaultEventQueue (at most MaxEventQueue). A full queue drops events for this subscriber
// only, counted by Dropped. Unknown ids and types simply never match. More
// than MaxFilterItems ids or types, or one longer than MaxFilterIDLen or
// MaxFilterType bytes, is an error wrapping ErrFilter.
func (s *Supervisor) Subscribe(pids, types []string, queue int) (*Subscription, error) {
	pf, err := newFilter("process ids", pids, MaxFilterIDLen, func(id string) (string, bool) {
		if p, ok := s.byID[id]; ok {
			return p.cfg.ID, true
		}
		return "", false
	})
	if err != nil {
		return nil, err
	}
	tf, err := newFilter("event types", types, MaxFilterType, knownType)
	if err != nil {
		return nil, err
	}
	return s.bus.subscribe(pf, tf, queue)
}
