package supervisor

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitState is used by tests: it polls until process id reaches state.
func (s *Supervisor) waitState(ctx context.Context, id string, want State) error {
	for {
		e, err := s.Status(id)
		if err != nil {
			return err
		}
		if e.State == want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("process %q: state %s, want %s: %w", id, e.State, want, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// sh is a process running script with /bin/sh -c, never restarted, with
// short timeouts.
func sh(id, script string) ProcessConfig {
	return ProcessConfig{ID: id, Command: "/bin/sh", Args: []string{"-c", script},
		Restart: RestartNever, Backoff: 10 * time.Millisecond, StopTimeout: 2 * time.Second,
		LogBuffer: 1 << 16}
}

// newSup creates a supervisor that is shut down when the test ends.
func newSup(t *testing.T, procs ...ProcessConfig) *Supervisor {
	t.Helper()
	s, err := New(&Config{Socket: "unused", Processes: procs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustWaitState(t *testing.T, s *Supervisor, id string, want State) Entry {
	t.Helper()
	if err := s.waitState(testCtx(t), id, want); err != nil {
		t.Fatal(err)
	}
	e, _ := s.Status(id)
	return e
}

// waitOutput polls until the stream's snapshot contains sub.
func waitOutput(t *testing.T, s *Supervisor, id string, stream int, sub string) {
	t.Helper()
	ctx := testCtx(t)
	for {
		b, err := s.Snapshot(id, stream, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), sub) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s stream %d never printed %q; have %q", id, stream, sub, b)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// nextEvents reads n events from sub.
func nextEvents(t *testing.T, sub *Subscription, n int) []Event {
	t.Helper()
	ctx := testCtx(t)
	var out []Event
	for len(out) < n {
		select {
		case e, ok := <-sub.C():
			if !ok {
				t.Fatalf("subscription closed after %v", out)
			}
			out = append(out, e)
		case <-ctx.Done():
			t.Fatalf("got %d of %d events: %v", len(out), n, out)
		}
	}
	return out
}

func eventTypes(evs []Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

// groupMembers returns the pids and states of the processes in group pgid.
func groupMembers(t *testing.T, pgid int) map[int]byte {
	t.Helper()
	out := make(map[int]byte)
	group := []byte(strconv.Itoa(pgid))
	if err := eachProc(func(pid int, f [][]byte) {
		if len(f) > 2 && bytes.Equal(f[2], group) {
			out[pid] = f[0][0]
		}
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// assertGone checks that pid no longer exists, reaping it first if it is a
// zombie re-parented to the test binary (see TestMain).
func assertGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); os.IsNotExist(err) {
			return
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
			t.Fatalf("pid %d still exists: %s", pid, b)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// assertGroupGone checks that process group pgid is empty. Members must be
// dead within a moment (SIGKILL is delivered asynchronously); dead ones,
// zombies re-parented to the test binary, are reaped.
func assertGroupGone(t *testing.T, pgid int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		members := groupMembers(t, pgid)
		alive := 0
		for pid, state := range members {
			if state == 'Z' {
				assertGone(t, pid)
			} else {
				alive++
			}
		}
		if alive == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %d: members still alive: %v", pgid, members)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if m := groupMembers(t, pgid); len(m) != 0 {
		t.Errorf("group %d still has %v", pgid, m)
	}
}

func writeFile(path string) error { return os.WriteFile(path, nil, 0o600) }
