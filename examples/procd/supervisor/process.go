package supervisor

import (
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stableRun is how long a child must stay up for its restart count (and so
// its backoff) to reset.
const stableRun = 10 * time.Second

// proc is one supervised process. All state changes happen under mu and
// publish their event while still holding it, so events of one process are
// totally ordered and agree with what Status shows.
type proc struct {
	cfg     ProcessConfig
	bus     *bus
	streams [2]*ring
	wg      *sync.WaitGroup // the supervisor's, counts supervise loops
	rss     rssCache
	marker  []byte // "\x00" + MarkerEnv + "=<procd pid>/<id>\x00", in every child's environment

	mu       sync.Mutex
	state    State
	pid      int
	restarts int
	lastExit string
	run      *run // active supervise loop, nil when none
	closed   bool // set by Shutdown: no more starts
}

// run is the control block of one supervise loop, from Start until the
// process is stopped, crashed for good or failed.
type run struct {
	stop     chan struct{} // closed to ask the loop to stop
	stopReq  bool          // stop is closed
	wake     chan struct{} // cut a restart backoff short (Start while crashed)
	waiters  []chan error  // Start calls waiting for the next spawn
	done     chan struct{} // closed when the loop has returned
	hardKill bool          // Shutdown's deadline passed: SIGKILL at once
}

// exitInfo describes how one child run ended.
type exitInfo struct {
	err     error         // spawn or wait error (an *exec.ExitError when it exited non-zero)
	desc    string        // "exit status 1", "killed by signal 9", ...
	ranFor  time.Duration // time between spawn and exit
	clean   bool          // exit status 0
	request bool          // ended because Stop asked
}

// transitionLocked sets the state and publishes the event. Callers hold p.mu.
func (p *proc) transitionLocked(s State, pid int, typ, summary string) {
	p.state, p.pid = s, pid
	p.bus.publish(Event{ProcessID: p.cfg.ID, Type: typ, Timestamp: time.Now().UnixNano(),
		Summary: summary})
}

func (p *proc) transition(s State, pid int, typ, summary string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.transitionLocked(s, pid, typ, summary)
}

// supervise runs children until the process is stopped or gives up.
func (p *proc) supervise(r *run) {
	defer p.wg.Done()
	defer close(r.done)
	for {
		exit := p.runOnce(r)
		delay, again := p.decide(r, exit)
		if !again {
			return
		}
		if !p.sleep(r, delay) {
			return
		}
	}
}

// runOnce spawns one child, waits for it to end and drains its output.
func (p *proc) runOnce(r *run) exitInfo {
	p.transition(StateStarting, 0, EventStarting, "starting "+p.cfg.Command)
	start := time.Now()
	cmd, out, err := p.spawn()
	if err != nil {
		p.notify(r, fmt.Errorf("process %q: %w", p.cfg.ID, err))
		return exitInfo{err: err, desc: "failed to start: " + err.Error()}
	}
	pid := cmd.Process.Pid
	p.transition(StateRunning, pid, EventStarted, fmt.Sprintf("started with pid %d", pid))
	p.notify(r, nil)
	exit, seen := p.wait(r, cmd)
	exit.ranFor = time.Since(start)
	// Leftover members of the group, and descendants that left it, would
	// outlive their supervisor: kill them.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	p.sweep(pid, seen)
	out.wait()
	return exit
}

// sweepRounds bounds the rounds of sweep: a descendant forking while it is
// killed is found by the next round.
const sweepRounds = 50

// sweep SIGKILLs, until none is left, every descendant of the child pid
// (which has exited): those found through parent links (setsid'd ones
// included) while it ran (seen), those carrying the process's environment
// marker (orphans re-parented elsewhere) and their descendants.
func (p *proc) sweep(pid int, seen []int) {
	for range sweepRounds {
		left := descendants(pid, p.marker, seen)
		if len(left) == 0 {
			return
		}
		for _, d := range left {
			_ = syscall.Kill(d, syscall.SIGKILL)
		}
		time.Sleep(time.Millisecond)
	}
}

// notify answers the Start calls waiting for this spawn. A wake-up that
// raced with the end of the backoff is spent too.
func (p *proc) notify(r *run, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	drain(r.wake)
	for _, w := range r.waiters {
		w <- err
	}
	r.waiters = nil
}

// wait waits for the child to exit or for a stop request, which it serves
// with SIGTERM to the group and to every descendant outside it (setsid'd
// ones: see descendants), then SIGKILL to the group after stop_timeout. It
// returns the descendants it signalled, for sweep.
func (p *proc) wait(r *run, cmd *exec.Cmd) (exitInfo, []int) {
	pid := cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		return describeExit(cmd, err, ""), nil
	case <-r.stop:
	}
	p.mu.Lock()
	hard := r.hardKill
	p.transitionLocked(StateStopping, pid, EventStopping,
		fmt.Sprintf("sending SIGTERM to process group %d", pid))
	p.mu.Unlock()
	sig := syscall.SIGTERM
	if hard {
		sig = syscall.SIGKILL
	}
	seen := descendants(pid, p.marker, nil) // before the group ends: parent links still lead to them
	_ = syscall.Kill(-pid, sig)
	for _, d := range seen {
		_ = syscall.Kill(d, sig)
	}
	t := time.NewTimer(p.cfg.StopTimeout)
	defer t.Stop()
	select {
	case err := <-exited:
		return stopped(describeExit(cmd, err, "")), seen
	case <-t.C:
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	note := fmt.Sprintf(" (SIGKILL after stop_timeout %v)", p.cfg.StopTimeout)
	return stopped(describeExit(cmd, <-exited, note)), seen
}

func stopped(e exitInfo) exitInfo {
	e.request = true
	return e
}

func describeExit(cmd *exec.Cmd, err error, note string) exitInfo {
	e := exitInfo{err: err}
	ps := cmd.ProcessState
	if ps == nil {
		e.desc = "wait failed: " + err.Error() + note
		return e
	}
	ws, _ := ps.Sys().(syscall.WaitStatus)
	switch {
	case ws.Signaled():
		e.desc = fmt.Sprintf("killed by signal %d (%v)", int(ws.Signal()), ws.Signal())
	default:
		e.desc = fmt.Sprintf("exit status %d", ps.ExitCode())
		e.clean = ps.ExitCode() == 0
	}
	e.desc += note
	return e
}

// decide records how the run ended and whether to restart, and after what
// delay. It returns again=false when the loop ends; the run is then detached.
func (p *proc) decide(r *run, exit exitInfo) (delay time.Duration, again bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lastExit = exit.desc
	if exit.request || r.stopReq {
		p.transitionLocked(StateStopped, 0, EventStopped, "stopped: "+exit.desc)
		p.detachLocked(r)
		return 0, false
	}
	if exit.clean {
		p.transitionLocked(StateStopped, 0, EventStopped, exit.desc)
	} else {
		p.transitionLocked(StateCrashed, 0, EventCrashed, exit.desc)
	}
	if exit.ranFor >= stableRun {
		p.restarts = 0
	}
	policy := p.cfg.Restart
	if policy == RestartNever || policy == RestartOnFailure && exit.clean {
		p.detachLocked(r)
		return 0, false
	}
	if p.cfg.MaxRestarts >= 0 && p.restarts >= p.cfg.MaxRestarts {
		p.transitionLocked(StateFailed, 0, EventFailed,
			fmt.Sprintf("gave up after %d restarts: %s", p.restarts, exit.desc))
		p.detachLocked(r)
		return 0, false
	}
	p.restarts++
	delay = p.backoff(p.restarts)
	p.bus.publish(Event{ProcessID: p.cfg.ID, Type: EventRestarting, Timestamp: time.Now().UnixNano(),
		Summary: fmt.Sprintf("restart %d in %v", p.restarts, delay)})
	return delay, true
}

// backoff is the delay before restart number n (1-based): backoff doubled
// n-1 times, capped at max_backoff.
func (p *proc) backoff(n int) time.Duration {
	d := p.cfg.Backoff
	for i := 1; i < n && d < p.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, p.cfg.MaxBackoff)
}

// sleep waits out a restart delay. It returns false when a stop request
// ended the loop instead.
func (p *proc) sleep(r *run, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.wake:
		return true
	case <-r.stop:
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.transitionLocked(StateStopped, 0, EventStopped, "stopped during restart backoff")
	p.detachLocked(r)
	return false
}

// detachLocked ends the run: pending Start calls get an error.
func (p *proc) detachLocked(r *run) {
	for _, w := range r.waiters {
		w <- fmt.Errorf("process %q is %w", p.cfg.ID, ErrStopping)
	}
	r.waiters = nil
	if p.run == r {
		p.run = nil
	}
}

func drain(c chan struct{}) {
	select {
	case <-c:
	default:
	}
}

// environ is procd's environment with the configured variables added.
func (p *proc) environ(base []string) []string {
	if len(p.cfg.Env) == 0 {
		return base
	}
	env := make([]string, 0, len(base)+len(p.cfg.Env))
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		if _, override := p.cfg.Env[name]; !override {
			env = append(env, kv)
		}
	}
	for k, v := range p.cfg.Env {
		env = append(env, k+"="+v)
	}
	return env
}
