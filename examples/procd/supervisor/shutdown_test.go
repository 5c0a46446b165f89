package supervisor

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestTwentyProcesses(t *testing.T) {
	var procs []ProcessConfig
	for i := range 20 {
		procs = append(procs, sh(fmt.Sprintf("p%02d", i), fmt.Sprintf("echo hello %d; exec sleep 30", i)))
	}
	s := newSup(t, procs...)
	if err := s.StartAll(); err != nil {
		t.Fatal(err)
	}
	pids := make(map[int]bool)
	for i, e := range s.List() {
		if e.ID != procs[i].ID || e.State != StateRunning || e.ChildPID <= 0 || pids[e.ChildPID] {
			t.Errorf("entry %d: %+v", i, e)
		}
		pids[e.ChildPID] = true
		waitOutput(t, s, e.ID, StreamStdout, fmt.Sprintf("hello %d\n", i))
	}
	if err := s.Shutdown(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	for _, e := range s.List() {
		if e.State != StateStopped || e.ChildPID != 0 {
			t.Errorf("after shutdown: %+v", e)
		}
	}
	for pid := range pids {
		assertGone(t, pid)
		assertGroupGone(t, pid)
	}
}

func TestShutdownLeavesNoDescendant(t *testing.T) {
	// The leader ignores SIGTERM and forks grandchildren, one of which also
	// ignores it: only the SIGKILL after stop_timeout ends them all.
	tough := sh("tough", `trap "" TERM; sleep 30 & echo $!; (trap "" TERM; while :; do sleep 0.05; done) & echo $!; echo ready; wait`)
	tough.StopTimeout = 200 * time.Millisecond
	soft := sh("soft", `sleep 30 & echo $!; echo ready; wait`)
	s := newSup(t, tough, soft)
	if err := s.StartAll(); err != nil {
		t.Fatal(err)
	}
	var pids, groups []int
	for _, id := range []string{"tough", "soft"} {
		waitOutput(t, s, id, StreamStdout, "ready\n")
		e, _ := s.Status(id)
		groups = append(groups, e.ChildPID)
		pids = append(pids, e.ChildPID)
		out, _ := s.Snapshot(id, StreamStdout, 0, 0)
		for _, line := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(line); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	if len(pids) != 5 {
		t.Fatalf("pids %v", pids)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	begin := time.Now()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	for _, pid := range pids {
		assertGone(t, pid)
	}
	for _, g := range groups {
		assertGroupGone(t, g)
	}
}

func TestShutdownDeadlineKills(t *testing.T) {
	pc := sh("p", `trap "" TERM; echo ready; while :; do sleep 0.05; done`)
	pc.StopTimeout = time.Hour
	s := newSup(t, pc)
	if err := s.Start("p"); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, s, "p", StreamStdout, "ready")
	e, _ := s.Status("p")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); err != context.DeadlineExceeded {
		t.Errorf("shutdown: %v, want deadline exceeded", err)
	}
	assertGone(t, e.ChildPID)
	if e2, _ := s.Status("p"); e2.State != StateStopped {
		t.Errorf("state %s", e2.State)
	}
}

func TestSlowSubscriberDoesNotBlockOthers(t *testing.T) {
	s := newSup(t, sh("a", "exit 0"), sh("b", "exit 0"))
	slow, _ := s.Subscribe(nil, nil, 1) // never read
	fast, _ := s.Subscribe(nil, nil, 1024)
	onlyB, _ := s.Subscribe([]string{"b"}, []string{EventStarted}, 1024)
	const rounds = 20
	for range rounds {
		for _, id := range []string{"a", "b"} {
			if err := s.Start(id); err != nil {
				t.Fatal(err)
			}
			mustWaitState(t, s, id, StateStopped)
		}
	}
	evs := nextEvents(t, fast, rounds*2*3) // starting, started, stopped
	for i, e := range evs {
		want := []string{EventStarting, EventStarted, EventStopped}[i%3]
		if e.Type != want {
			t.Fatalf("fast event %d: %+v, want %s", i, e, want)
		}
	}
	if slow.Dropped() != rounds*2*3-1 || fast.Dropped() != 0 {
		t.Errorf("dropped: slow %d, fast %d", slow.Dropped(), fast.Dropped())
	}
	for _, e := range nextEvents(t, onlyB, rounds) {
		if e.ProcessID != "b" || e.Type != EventStarted {
			t.Errorf("filtered subscription got %+v", e)
		}
	}
	select {
	case e := <-onlyB.C():
		t.Errorf("extra event %+v", e)
	default:
	}
	fast.Close()
	fast.Close()
	if _, ok := <-fast.C(); ok {
		t.Error("channel open after Close")
	}
}
