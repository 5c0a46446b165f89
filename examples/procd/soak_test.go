package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mgmtgen/mgmtgen/examples/procd/supervisor"
	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/client"
)

// soakProcs are the children of the soak: a ticker (follow target), a
// chatty writer on both streams (snapshot target), a crashing process
// restarted over and over (events), and one process toggled by client 0.
// Log buffers are small so that they fill early and the heap figures show
// growth, not buffers filling up.
var soakProcs = []supervisor.ProcessConfig{
	{ID: "ticker", Command: "/bin/sh", Args: []string{"-c", `i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.05; done`},
		Restart: supervisor.RestartAlways, StopTimeout: 2 * time.Second, LogBuffer: 1 << 14},
	{ID: "chatty", Command: "/bin/sh", Args: []string{"-c", `while :; do echo out; echo err >&2; sleep 0.01; done`},
		Restart: supervisor.RestartAlways, StopTimeout: 2 * time.Second, LogBuffer: 1 << 14},
	{ID: "flaky", Command: "/bin/sh", Args: []string{"-c", `echo up; sleep 0.2; exit 1`},
		Restart: supervisor.RestartAlways, MaxRestarts: -1, Backoff: 50 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, StopTimeout: 2 * time.Second, LogBuffer: 1 << 14},
	{ID: "toggle", Command: "/bin/sh", Args: []string{"-c", `exec sleep 3600`},
		Restart: supervisor.RestartNever, StopTimeout: 2 * time.Second, LogBuffer: 1 << 14},
}

// soakDuration is MGMT_SOAK (a Go duration), default 10s.
func soakDuration(t *testing.T) time.Duration {
	s := os.Getenv("MGMT_SOAK")
	if s == "" {
		return 10 * time.Second
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		t.Fatalf("MGMT_SOAK=%q: want a positive duration such as 60s", s)
	}
	return d
}

// soakStats counts operations and failures of every kind.
type soakStats struct {
	mu   sync.Mutex
	ops  map[string]int
	errs []string
}

func (s *soakStats) ok(op string) {
	s.mu.Lock()
	s.ops[op]++
	s.mu.Unlock()
}

func (s *soakStats) fail(format string, args ...any) {
	s.mu.Lock()
	if len(s.errs) < 50 {
		s.errs = append(s.errs, fmt.Sprintf(format, args...))
	}
	s.ops["FAILED"]++
	s.mu.Unlock()
}

func (s *soakStats) String() string {
	var parts []string
	total := 0
	for k, v := range s.ops {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
		total += v
	}
	sort.Strings(parts)
	return fmt.Sprintf("%d ops: %s", total, strings.Join(parts, " "))
}

// soakFigures samples goroutines and live heap after a GC.
func soakFigures() (goroutines int, heap uint64) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return runtime.NumGoroutine(), m.HeapAlloc
}

// TestSoak runs procd with real children against 64 clients doing mixed
// unary calls and streams for MGMT_SOAK (default 10s): no call may be lost
// or answered with another call's response, and goroutines and heap must
// be back near their starting figures at the end.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test; skipped with -short")
	}
	defer goleak.VerifyNone(t)
	dur := soakDuration(t)
	sock := filepath.Join(t.TempDir(), supervisor.SocketName)
	cfg := &supervisor.Config{Socket: sock, Processes: soakProcs}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- serve(ctx, cfg, log, 10*time.Second) }()
	defer func() {
		stop()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("procd shutdown: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("procd did not shut down")
		}
	}()
	soakWaitUp(t, sock)

	g0, h0 := soakFigures()
	stats := &soakStats{ops: map[string]int{}}
	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	var seq atomic.Uint64
	for i := range 64 {
		wg.Go(func() { soakClient(sock, i, deadline, stats, &seq) })
	}
	wg.Wait()

	g1, h1 := soakFigures()
	for n := 0; n < 100 && g1 > g0+8; n++ { // stream handlers wind down
		time.Sleep(50 * time.Millisecond)
		g1, h1 = soakFigures()
	}
	if f := os.Getenv("MGMT_SOAK_HEAPPROFILE"); f != "" {
		if w, err := os.Create(f); err == nil {
			pprof.WriteHeapProfile(w)
			w.Close()
		}
	}
	t.Logf("soak %v, 64 clients: %s", dur, stats)
	t.Logf("goroutines start %d end %d; heap start %d KiB end %d KiB", g0, g1, h0>>10, h1>>10)
	for _, e := range stats.errs {
		t.Error(e)
	}
	if stats.ops["FAILED"] > 0 {
		t.Errorf("%d lost or mismatched responses", stats.ops["FAILED"])
	}
	if g1 > g0+8 {
		t.Errorf("goroutines grew from %d to %d", g0, g1)
	}
	if h1 > 2*h0+8<<20 {
		t.Errorf("heap grew from %d to %d bytes", h0, h1)
	}
}

// soakWaitUp waits until procd answers List with every process running and
// chatty has written to both streams (the snapshots expect its output).
func soakWaitUp(t *testing.T, sock string) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if cl, err := mgmt.Dial(sock); err == nil {
			l, err := cl.List(context.Background())
			up := err == nil && len(l.Entries) == len(soakProcs) && l.Entries[0].State == "running" &&
				soakWrote(cl, 0, "out") && soakWrote(cl, 1, "err")
			cl.Close()
			if up {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("procd did not come up")
}

// soakWrote reports whether chatty's snapshot of stream holds want.
func soakWrote(cl *mgmt.Client, stream uint8, want string) bool {
	st, err := cl.Logs(context.Background(), &mgmt.LogsRequestPayload{ID: "chatty", Stream: stream})
	if err != nil {
		return false
	}
	defer st.Close()
	p, err := st.Recv()
	return err == nil && strings.Contains(string(p.Data), want)
}

// soakClient runs mixed calls on its own connection until deadline. Every
// call carries something (a process id, a nonce in an unknown id) that its
// answer must echo; any error other than the expected ones is a failure.
func soakClient(sock string, i int, deadline time.Time, stats *soakStats, seq *atomic.Uint64) {
	cl, err := mgmt.Dial(sock)
	if err != nil {
		stats.fail("client %d: dial: %v", i, err)
		return
	}
	defer cl.Close()
	rng := rand.New(rand.NewPCG(uint64(i), 7))
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		op := rng.IntN(100)
		switch {
		case i == 0 && op < 10:
			soakToggle(ctx, cl, stats)
		case op < 30:
			soakList(ctx, cl, stats)
		case op < 60:
			soakStatus(ctx, cl, stats, rng, seq)
		case op < 80:
			soakSnapshot(ctx, cl, stats, rng)
		case op < 92:
			soakFollow(ctx, cl, stats)
		default:
			soakEvents(ctx, cl, stats)
		}
		cancel()
	}
}

func soakList(ctx context.Context, cl *mgmt.Client, stats *soakStats) {
	l, err := cl.List(ctx)
	if err != nil || len(l.Entries) != len(soakProcs) {
		stats.fail("List: %v %v", l, err)
		return
	}
	for j, e := range l.Entries {
		if e.ID != soakProcs[j].ID {
			stats.fail("List: entry %d is %q, want %q", j, e.ID, soakProcs[j].ID)
			return
		}
	}
	stats.ok("list")
}

func soakStatus(ctx context.Context, cl *mgmt.Client, stats *soakStats, rng *rand.Rand, seq *atomic.Uint64) {
	if rng.IntN(4) == 0 {
		id := fmt.Sprintf("nope-%d", seq.Add(1))
		_, err := cl.Status(ctx, &mgmt.StatusRequestPayload{ID: id})
		var re *client.RemoteError
		if !errors.As(err, &re) || !strings.Contains(re.Text, `"`+id+`"`) {
			stats.fail("Status %s: %v, want an unknown-process error naming it", id, err)
			return
		}
		stats.ok("status-unknown")
		return
	}
	id := soakProcs[rng.IntN(len(soakProcs))].ID
	s, err := cl.Status(ctx, &mgmt.StatusRequestPayload{ID: id})
	if err != nil || s.Entry.ID != id {
		stats.fail("Status %s: %+v %v", id, s, err)
		return
	}
	stats.ok("status")
}

func soakSnapshot(ctx context.Context, cl *mgmt.Client, stats *soakStats, rng *rand.Rand) {
	stream := uint8(rng.IntN(2))
	st, err := cl.Logs(ctx, &mgmt.LogsRequestPayload{ID: "chatty", Stream: stream, Lines: 5})
	if err != nil {
		stats.fail("Logs snapshot: %v", err)
		return
	}
	defer st.Close()
	p, err := st.Recv()
	want := []string{"out", "err"}[stream]
	if err != nil || p.ID != "chatty" || p.Stream != stream || !p.EOF || !strings.Contains(string(p.Data), want) {
		stats.fail("Logs snapshot stream %d: %+v %v", stream, p, err)
		return
	}
	if _, err := st.Recv(); err != io.EOF {
		stats.fail("Logs snapshot: after EOF frame: %v", err)
		return
	}
	stats.ok("logs-snapshot")
}

func soakFollow(ctx context.Context, cl *mgmt.Client, stats *soakStats) {
	st, err := cl.Logs(ctx, &mgmt.LogsRequestPayload{ID: "ticker", Follow: true, Lines: 1})
	if err != nil {
		stats.fail("Logs follow: %v", err)
		return
	}
	defer st.Close()
	for n := range 3 { // the snapshot, then two new ticks (~50 ms apart)
		p, err := st.Recv()
		if err != nil || p.ID != "ticker" || p.EOF || n > 0 && !strings.Contains(string(p.Data), "tick") {
			stats.fail("Logs follow frame %d: %+v %v", n, p, err)
			return
		}
	}
	stats.ok("logs-follow")
}

func soakEvents(ctx context.Context, cl *mgmt.Client, stats *soakStats) {
	st, err := cl.Events(ctx, &mgmt.EventsSubscribePayload{ProcessIDs: []string{"flaky"}})
	if err != nil {
		stats.fail("Events: %v", err)
		return
	}
	defer st.Close()
	p, err := st.Recv() // flaky crashes every ~250 ms
	if err != nil || p.ProcessID != "flaky" || p.Type == "" {
		stats.fail("Events: %+v %v", p, err)
		return
	}
	stats.ok("events")
}

// soakToggle stops or starts process "toggle" (client 0 only) and checks
// the state it reports.
func soakToggle(ctx context.Context, cl *mgmt.Client, stats *soakStats) {
	s, err := cl.Status(ctx, &mgmt.StatusRequestPayload{ID: "toggle"})
	if err != nil {
		stats.fail("Status toggle: %v", err)
		return
	}
	if s.Entry.State == "running" {
		s, err = cl.Stop(ctx, &mgmt.StopRequestPayload{ID: "toggle"})
	} else {
		s, err = cl.Start(ctx, &mgmt.StartRequestPayload{ID: "toggle"})
	}
	if err != nil || s.Entry.ID != "toggle" {
		stats.fail("toggle: %+v %v", s, err)
		return
	}
	stats.ok("stop-start")
}

// TestProcdBoundedErrorEcho: procd quotes an unknown process id in its
// error; the schema's max_len (4096) bounds what it can echo.
func TestProcdBoundedErrorEcho(t *testing.T) {
	if testing.Short() {
		t.Skip("starts procd")
	}
	defer goleak.VerifyNone(t)
	sock := filepath.Join(t.TempDir(), supervisor.SocketName)
	cfg := &supervisor.Config{Socket: sock, Processes: soakProcs[3:]}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- serve(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), 5*time.Second) }()
	defer func() { stop(); <-served }()
	var cl *mgmt.Client
	var err error
	for range 200 {
		if cl, err = mgmt.Dial(sock); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, n := range []int{4096, 4097, 1 << 20} {
		_, err := cl.Status(context.Background(), &mgmt.StatusRequestPayload{ID: strings.Repeat("x", n)})
		var re *client.RemoteError
		if !errors.As(err, &re) {
			t.Fatalf("id of %d bytes: %v", n, err)
		}
		if len(re.Text) > 4096+64 {
			t.Errorf("id of %d bytes: error text of %d bytes", n, len(re.Text))
		}
		t.Logf("id of %d bytes: error text of %d bytes", n, len(re.Text))
	}
}
