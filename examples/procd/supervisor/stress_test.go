package supervisor

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSlowFollowerNeverBlocksCapture(t *testing.T) {
	flag := t.TempDir() + "/go"
	// Two batches, so that at least two chunks arrive whatever the timing.
	script := `echo first; while [ ! -e ` + flag + ` ]; do sleep 0.01; done; ` +
		`i=1; while [ $i -lt 500 ]; do echo "line $i"; i=$((i+1)); done`
	s := newSup(t, sh("p", script))
	s.followBytes = 8
	ctx := testCtx(t)
	_, f, err := s.Follow(ctx, "p", StreamStdout, 0, 0) // never read until the end
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, fast, _ := s.Follow(ctx, "p", StreamStdout, 0, 0)
	defer fast.Close()
	if err := s.Start("p"); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, s, "p", StreamStdout, "first\n")
	if err := writeFile(flag); err != nil {
		t.Fatal(err)
	}
	mustWaitState(t, s, "p", StateStopped)
	out, _ := s.Snapshot("p", StreamStdout, 0, 0)
	if n := strings.Count(string(out), "\n"); n != 500 {
		t.Fatalf("captured %d lines, want 500", n)
	}
	var err2 error
	for err2 == nil {
		_, err2 = f.Next(ctx)
	}
	if !errors.Is(err2, ErrSlowFollower) {
		t.Errorf("slow follower: %v", err2)
	}
}

func TestConcurrentControl(t *testing.T) {
	var procs []ProcessConfig
	for i := range 4 {
		pc := sh(fmt.Sprintf("p%d", i), `trap 'exit 0' TERM; echo up; while :; do sleep 0.05; done`)
		pc.Restart, pc.MaxRestarts = RestartOnFailure, -1
		procs = append(procs, pc)
	}
	s := newSup(t, procs...)
	sub, _ := s.Subscribe(nil, nil, 4)
	defer sub.Close()
	var wg sync.WaitGroup
	deadline := time.Now().Add(time.Second)
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(g), 1))
			for time.Now().Before(deadline) {
				id := procs[rnd.IntN(len(procs))].ID
				switch rnd.IntN(4) {
				case 0:
					if err := s.Start(id); err != nil && !errors.Is(err, ErrAlreadyRunning) &&
						!errors.Is(err, ErrStopping) {
						t.Errorf("start %s: %v", id, err)
					}
				case 1:
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					if err := s.Stop(ctx, id); err != nil {
						t.Errorf("stop %s: %v", id, err)
					}
					cancel()
				case 2:
					_ = s.List()
				case 3:
					_, _ = s.Snapshot(id, StreamStdout, 0, 1)
				}
			}
		}()
	}
	wg.Wait()
	var pids []int
	for _, e := range s.List() {
		if e.ChildPID > 0 {
			pids = append(pids, e.ChildPID)
		}
	}
	if err := s.Shutdown(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		assertGone(t, pid)
		assertGroupGone(t, pid)
	}
	for _, e := range s.List() {
		if e.State != StateStopped && e.State != StateRegistered {
			t.Errorf("after shutdown: %+v", e)
		}
	}
}

// The attack: a fast writer (64 MiB) and 12 followers that never
// read. Each holds at most DefaultFollowBytes of output, then is dropped
// with an error saying how far behind it was; the heap grows by no more
// than 12 follower bounds and the ring.
func TestFollowersBoundedByBytes(t *testing.T) {
	s := newSup(t, sh("fast", `head -c 67108864 /dev/zero`))
	ctx := testCtx(t)
	before := heapInUse()
	followers := make([]*Follower, 12)
	for i := range followers {
		_, f, err := s.Follow(ctx, "fast", StreamStdout, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		followers[i] = f
	}
	if err := s.Start("fast"); err != nil {
		t.Fatal(err)
	}
	mustWaitState(t, s, "fast", StateStopped)
	grew := int64(heapInUse()) - int64(before)
	bound := int64(len(followers)*DefaultFollowBytes + 2*DefaultLogBuffer + 4<<20)
	t.Logf("64 MiB written past %d idle followers: heap grew %.1f MiB (bound %.1f MiB)", len(followers), float64(grew)/(1<<20), float64(bound)/(1<<20))
	if grew > bound {
		t.Errorf("heap grew %d bytes, over %d", grew, bound)
	}
	for i, f := range followers {
		n := 0
		var err error
		for {
			var b []byte
			if b, err = f.Next(ctx); err != nil {
				break
			}
			n += len(b)
		}
		want := fmt.Sprintf("over the %d bytes a follower may fall behind", DefaultFollowBytes)
		if !errors.Is(err, ErrSlowFollower) || !strings.Contains(err.Error(), want) || n > DefaultFollowBytes {
			t.Errorf("follower %d: %d bytes queued, then %v", i, n, err)
		}
	}
}
