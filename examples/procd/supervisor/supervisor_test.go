package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSnapshotExactPerStream(t *testing.T) {
	script := `i=1; while [ $i -le 200 ]; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); done`
	s := newSup(t, sh("p", script))
	if err := s.Start("p"); err != nil {
		t.Fatal(err)
	}
	e := mustWaitState(t, s, "p", StateStopped)
	if e.LastExit != "exit status 0" || e.ChildPID != 0 {
		t.Errorf("entry %+v", e)
	}
	var wantOut, wantErr strings.Builder
	for i := 1; i <= 200; i++ {
		fmt.Fprintf(&wantOut, "out %d\n", i)
		fmt.Fprintf(&wantErr, "err %d\n", i)
	}
	for stream, want := range []string{wantOut.String(), wantErr.String()} {
		got, err := s.Snapshot("p", stream, 0, 0)
		if err != nil || string(got) != want {
			t.Errorf("stream %d: %v\n got %q\nwant %q", stream, err, got, want)
		}
	}
}

func TestSnapshotSinceAndLines(t *testing.T) {
	flag := filepath.Join(t.TempDir(), "go")
	script := `printf 'a\nb\n'; while [ ! -e ` + flag + ` ]; do sleep 0.01; done; printf 'c\nd\ne\n'; sleep 30`
	s := newSup(t, sh("p", script))
	if err := s.Start("p"); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, s, "p", StreamStdout, "b\n")
	time.Sleep(20 * time.Millisecond)
	mark := time.Now().UnixNano()
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, s, "p", StreamStdout, "e\n")
	for _, tt := range []struct {
		since int64
		lines int
		want  string
	}{
		{0, 0, "a\nb\nc\nd\ne\n"},
		{mark, 0, "c\nd\ne\n"},
		{0, 2, "d\ne\n"},
		{mark, 5, "c\nd\ne\n"},
		{time.Now().Add(time.Hour).UnixNano(), 0, ""},
	} {
		got, err := s.Snapshot("p", StreamStdout, tt.since, tt.lines)
		if err != nil || string(got) != tt.want {
			t.Errorf("since=%d lines=%d: %q, %v; want %q", tt.since, tt.lines, got, err, tt.want)
		}
	}
	snap, f, err := s.Follow(testCtx(t), "p", StreamStdout, mark, 1)
	if err != nil || string(snap) != "e\n" {
		t.Errorf("follow snapshot %q, %v", snap, err)
	}
	f.Close()
}

func TestFollowSeesNewOutput(t *testing.T) {
	flag := filepath.Join(t.TempDir(), "go")
	script := `echo before; while [ ! -e ` + flag + ` ]; do sleep 0.01; done; ` +
		`for i in 1 2 3; do echo "after $i"; echo "noise $i" >&2; done; sleep 30`
	s := newSup(t, sh("p", script))
	if err := s.Start("p"); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, s, "p", StreamStdout, "before\n")
	ctx := testCtx(t)
	snap, f, err := s.Follow(ctx, "p", StreamStdout, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if string(snap) != "before\n" {
		t.Errorf("snapshot %q", snap)
	}
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var got []byte
	for !strings.HasSuffix(string(got), "after 3\n") {
		b, err := f.Next(ctx)
		if err != nil {
			t.Fatalf("next: %v (have %q)", err, got)
		}
		got = append(got, b...)
	}
	if string(got) != "after 1\nafter 2\nafter 3\n" {
		t.Errorf("followed %q", got)
	}
	// Shutdown ends the follower.
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Next(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("next after shutdown: %v", err)
	}
}

func TestFollowContextCancel(t *testing.T) {
	s := newSup(t, sh("p", "sleep 30"))
	ctx, cancel := context.WithCancel(context.Background())
	_, f, err := s.Follow(ctx, "p", StreamStderr, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := f.Next(testCtx(t)); !errors.Is(err, ErrClosed) && !errors.Is(err, context.Canceled) {
		t.Errorf("next after cancel: %v", err)
	}
}

func TestStopEventsInOrder(t *testing.T) {
	s := newSup(t, sh("p", "exec sleep 30"))
	sub, err := s.Subscribe([]string{"p"}, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("p"); err != nil {
		t.Fatal(err)
	}
	e, _ := s.Status("p")
	if e.State != StateRunning || e.ChildPID <= 0 || e.RSS == 0 {
		t.Errorf("after start: %+v", e)
	}
	if err := s.Stop(testCtx(t), "p"); err != nil {
		t.Fatal(err)
	}
	if e2, _ := s.Status("p"); e2.State != StateStopped || e2.ChildPID != 0 {
		t.Errorf("after stop: %+v", e2)
	}
	evs := nextEvents(t, sub, 4)
	want := []string{EventStarting, EventStarted, EventStopping, EventStopped}
	if !slices.Equal(eventTypes(evs), want) {
		t.Errorf("events %v, want %v", evs, want)
	}
	for i, ev := range evs {
		if ev.ProcessID != "p" || ev.Summary == "" || strings.Contains(ev.Summary, "\n") ||
			i > 0 && ev.Timestamp < evs[i-1].Timestamp {
			t.Errorf("event %d: %+v", i, ev)
		}
	}
	if !strings.Contains(evs[1].Summary, fmt.Sprint(e.ChildPID)) {
		t.Errorf("started summary %q lacks pid %d", evs[1].Summary, e.ChildPID)
	}
	assertGone(t, e.ChildPID)
	if err := s.Stop(testCtx(t), "p"); err != nil {
		t.Errorf("second stop: %v", err)
	}
}

func TestStopKillsAfterTimeout(t *testing.T) {
	pc := sh("p", `trap "" TERM; echo ready; while :; do sleep 0.05; done`)
	pc.StopTimeout = 300 * time.Millisecond
	s := newSup(t, pc)
	if err := s.Start("p"); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, s, "p", StreamStdout, "ready")
	e, _ := s.Status("p")
	begin := time.Now()
	if err := s.Stop(testCtx(t), "p"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(begin); d < pc.StopTimeout {
		t.Errorf("stopped after %v, before stop_timeout %v", d, pc.StopTimeout)
	}
	e2, _ := s.Status("p")
	if e2.State != StateStopped || !strings.Contains(e2.LastExit, "killed by signal 9") ||
		!strings.Contains(e2.LastExit, "SIGKILL after stop_timeout 300ms") {
		t.Errorf("after stop: %+v", e2)
	}
	assertGone(t, e.ChildPID)
	assertGroupGone(t, e.ChildPID)
}

func TestCrashRestartThenFailed(t *testing.T) {
	pc := sh("p", "echo run; exit 3")
	pc.Restart, pc.MaxRestarts = RestartOnFailure, 2
	s := newSup(t, pc)
	sub, _ := s.Subscribe(nil, nil, 0)
	if err := s.Start("p"); err != nil {
		t.Fatal(err)
	}
	e := mustWaitState(t, s, "p", StateFailed)
	if e.LastExit != "exit status 3" || e.Restarts != 2 {
		t.Errorf("entry %+v", e)
	}
	run := []string{EventStarting, EventStarted, EventCrashed}
	want := slices.Concat(run, []string{EventRestarting}, run, []string{EventRestarting}, run,
		[]string{EventFailed})
	if got := eventTypes(nextEvents(t, sub, len(want))); !slices.Equal(got, want) {
		t.Errorf("events\n got %v\nwant %v", got, want)
	}
	if out, _ := s.Snapshot("p", StreamStdout, 0, 0); string(out) != "run\nrun\nrun\n" {
		t.Errorf("output %q", out)
	}
	// A manual start resets the count.
	if err := s.Start("p"); err != nil {
		t.Fatal(err)
	}
	mustWaitState(t, s, "p", StateFailed)
}

func TestRestartPolicies(t *testing.T) {
	never := sh("never", "exit 1")
	clean := sh("clean", "exit 0")
	clean.Restart = RestartOnFailure
	always := sh("always", "echo x; exit 0")
	always.Restart, always.MaxRestarts = RestartAlways, 1
	s := newSup(t, never, clean, always)
	if err := s.StartAll(); err != nil {
		t.Fatal(err)
	}
	mustWaitState(t, s, "never", StateCrashed)
	mustWaitState(t, s, "clean", StateStopped)
	mustWaitState(t, s, "always", StateFailed)
	if out, _ := s.Snapshot("always", StreamStdout, 0, 0); string(out) != "x\nx\n" {
		t.Errorf("always ran %q", out)
	}
}

func TestStopCancelsPendingRestart(t *testing.T) {
	pc := sh("p", "exit 1")
	pc.Restart, pc.Backoff, pc.MaxRestarts = RestartOnFailure, time.Hour, -1
	s := newSup(t, pc)
	sub, _ := s.Subscribe(nil, []string{EventRestarting, EventStopped}, 0)
	if err := s.Start("p"); err != nil {
		t.Fatal(err)
	}
	nextEvents(t, sub, 1) // restarting in 1h
	if err := s.Stop(testCtx(t), "p"); err != nil {
		t.Fatal(err)
	}
	if e, _ := s.Status("p"); e.State != StateStopped {
		t.Errorf("state %s", e.State)
	}
}

func TestStartDuringBackoffRestartsNow(t *testing.T) {
	flag := filepath.Join(t.TempDir(), "crashed")
	pc := sh("p", `if [ -e `+flag+` ]; then exec sleep 30; fi; touch `+flag+`; exit 1`)
	pc.Restart, pc.Backoff, pc.MaxRestarts = RestartOnFailure, time.Hour, 5
	s := newSup(t, pc)
	if err := s.Start("p"); err != nil {
		t.Fatal(err)
	}
	mustWaitState(t, s, "p", StateCrashed)
	if err := s.Start("p"); err != nil {
		t.Fatal(err)
	}
	if e, _ := s.Status("p"); e.State != StateRunning || e.Restarts != 0 {
		t.Errorf("after start during backoff: %+v", e)
	}
}

func TestStartErrors(t *testing.T) {
	s := newSup(t, sh("p", "exec sleep 30"), ProcessConfig{ID: "missing", Command: "/nonexistent/prog", Restart: RestartNever})
	if err := s.Start("x"); !errors.Is(err, ErrUnknownProcess) || err.Error() != `unknown process "x"` {
		t.Errorf("start unknown: %v", err)
	}
	if _, err := s.Status("x"); err == nil || err.Error() != `unknown process "x"` {
		t.Errorf("status unknown: %v", err)
	}
	if err := s.Stop(testCtx(t), "x"); !errors.Is(err, ErrUnknownProcess) {
		t.Errorf("stop unknown: %v", err)
	}
	if _, err := s.Snapshot("p", 2, 0, 0); !errors.Is(err, ErrInvalidStream) {
		t.Errorf("snapshot stream 2: %v", err)
	}
	if err := s.Start("p"); err != nil {
		t.Fatal(err)
	}
	if err := s.Start("p"); !errors.Is(err, ErrAlreadyRunning) || err.Error() != `process "p" is already running` {
		t.Errorf("second start: %v", err)
	}
	if err := s.Start("missing"); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("start missing program: %v", err)
	}
	e := mustWaitState(t, s, "missing", StateCrashed)
	if !strings.HasPrefix(e.LastExit, "failed to start: ") {
		t.Errorf("missing: %+v", e)
	}
	if err := s.Shutdown(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := s.Start("p"); !errors.Is(err, ErrClosed) {
		t.Errorf("start after shutdown: %v", err)
	}
	if _, err := s.Subscribe(nil, nil, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("subscribe after shutdown: %v", err)
	}
}

func TestEnvAndDir(t *testing.T) {
	dir := t.TempDir()
	pc := sh("p", `echo "$PROCD_A|$HOME_X"; pwd`)
	pc.Env, pc.Dir = map[string]string{"PROCD_A": "1", "HOME_X": "y"}, dir
	s := newSup(t, pc)
	if err := s.Start("p"); err != nil {
		t.Fatal(err)
	}
	mustWaitState(t, s, "p", StateStopped)
	resolved, _ := filepath.EvalSymlinks(dir)
	if out, _ := s.Snapshot("p", StreamStdout, 0, 0); string(out) != "1|y\n"+resolved+"\n" {
		t.Errorf("output %q", out)
	}
}

func TestRingBoundWithRealChild(t *testing.T) {
	pc := sh("p", `i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done`)
	pc.LogBuffer = 1000
	s := newSup(t, pc)
	if err := s.Start("p"); err != nil {
		t.Fatal(err)
	}
	mustWaitState(t, s, "p", StateStopped)
	out, _ := s.Snapshot("p", StreamStdout, 0, 0)
	if len(out) > 1000 || !strings.HasSuffix(string(out), "line 1998\nline 1999\n") {
		t.Errorf("%d bytes, ends %q", len(out), out[max(0, len(out)-30):])
	}
}
