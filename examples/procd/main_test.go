package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mgmtgen/mgmtgen/examples/procd/supervisor"
	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/internal/fakeserver"
)

// execAsProcd makes the test binary run procd's main (see TestSIGTERM...).
const execAsProcd = "PROCD_TEST_EXEC_MAIN"

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER from <linux/prctl.h>.
const prSetChildSubreaper = 36

func TestMain(m *testing.M) {
	if os.Getenv(execAsProcd) == "1" {
		main()
		return
	}
	// Orphans of a procd killed under test are re-parented to the test
	// binary, so the tests can reap them and check that none is left.
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		os.Stderr.WriteString("prctl(PR_SET_CHILD_SUBREAPER): " + errno.Error() + "\n")
	}
	goleak.VerifyTestMain(m)
}

// shortDir is a temporary directory with a short path: a socket path must
// fit in 108 bytes, and t.TempDir holds the test name.
func shortDir(t testing.TB) string { return fakeserver.SocketDir(t, "procd") }

// procd is a procd served in process by serve.
type procd struct {
	dir    string // scratch directory for the test's trigger files
	socket string
	d      *daemon
	client *mgmt.Client

	shutdown func() // ends procd as SIGTERM would; idempotent
}

// startProcd writes processesYAML (a YAML list of processes, where @DIR@
// stands for the test's scratch directory) into a config, serves it until
// the test ends, and dials it.
func startProcd(t testing.TB, processesYAML string) *procd {
	t.Helper()
	dir := shortDir(t)
	yaml := "runtime_dir: " + filepath.Join(dir, "run") + "\nprocesses:\n" +
		strings.ReplaceAll(processesYAML, "@DIR@", dir)
	cfg, err := supervisor.ParseConfig("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	d, err := newDaemon(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error) // closed when run has returned runErr
	var runErr error
	go func() {
		runErr = d.run(ctx, 10*time.Second)
		close(done)
	}()
	var once sync.Once
	shutdown := func() {
		once.Do(func() {
			cancel()
			<-done
			if err := runErr; err != nil {
				t.Errorf("serve: %v", err)
			}
			if _, err := os.Stat(cfg.Socket); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("socket %s still there after shutdown: %v", cfg.Socket, err)
			}
		})
	}
	t.Cleanup(shutdown)
	p := &procd{dir: dir, socket: cfg.Socket, d: d, shutdown: shutdown, client: dialWait(t, cfg.Socket, done)}
	t.Cleanup(func() { p.client.Close() })
	return p
}

// legacy gives p a client that speaks only the base protocol (no hello), as
// a cliwrap client does.
func (p *procd) legacy(t *testing.T) {
	t.Helper()
	c, err := mgmt.DialOptions(testCtx(t), p.socket, mgmt.ClientOptions{Legacy: true})
	if err != nil {
		t.Fatal(err)
	}
	p.client.Close()
	p.client = c
}

// dialWait dials socket until it answers, failing early when done is
// closed (procd has ended).
func dialWait(t testing.TB, socket string, done <-chan error) *mgmt.Client {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := mgmt.Dial(socket)
		if err == nil {
			return c
		}
		select {
		case <-done:
			t.Fatal("procd ended before it answered on its socket")
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("dial %s: %v", socket, err)
		}
	}
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// trigger creates the file a test child waits for.
func (p *procd) trigger(t *testing.T, name string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(p.dir, name), nil, 0o600); err != nil {
		t.Fatal(err)
	}
}

// waitFor is a shell loop that waits for the trigger file name.
func waitFor(name string) string {
	return "while [ ! -e @DIR@/" + name + " ]; do sleep 0.01; done"
}

// snapshot returns the buffered output of one stream, checking that it
// comes as exactly one frame with EOF true.
func (p *procd) snapshot(t *testing.T, req mgmt.LogsRequestPayload) string {
	t.Helper()
	st, err := p.client.Logs(testCtx(t), &req)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	f, err := st.Recv()
	if err != nil {
		t.Fatalf("logs %+v: %v", req, err)
	}
	if !f.EOF || f.ID != req.ID || f.Stream != req.Stream {
		t.Fatalf("logs %+v: frame %+v, want one frame with EOF", req, f)
	}
	if f2, err := st.Recv(); err != io.EOF {
		t.Fatalf("logs %+v: after the EOF frame: %+v, %v", req, f2, err)
	}
	return string(f.Data)
}

// waitOutput polls the snapshot of a stream until it holds want.
func (p *procd) waitOutput(t *testing.T, id string, stream uint8, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := p.snapshot(t, mgmt.LogsRequestPayload{ID: id, Stream: stream})
		if strings.Contains(got, want) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s stream %d: never printed %q; have %q", id, stream, want, got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitState polls Status until process id is in state want.
func (p *procd) waitState(t testing.TB, id, want string) mgmt.ListEntry {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := p.client.Status(testCtx(t), &mgmt.StatusRequestPayload{ID: id})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Entry.State == want {
			return resp.Entry
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: state %s, want %s", id, resp.Entry.State, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// evStream is an events stream and the cancel function that ends it.
// (Cancelling, not Close, unblocks a Recv in another goroutine: the
// generated stream's Close must not run concurrently with Recv.)
type evStream struct {
	*mgmt.EventsClientStream
	cancel context.CancelFunc
}

// events subscribes and returns the stream, ended when the test ends. It
// returns once procd has subscribed (there is no answer on the wire).
func (p *procd) events(t *testing.T, pids, types []string) evStream {
	t.Helper()
	before := p.d.h.subscribers.Load()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := p.client.Events(ctx, &mgmt.EventsSubscribePayload{ProcessIDs: pids, Types: types})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); st.Close() })
	deadline := time.Now().Add(5 * time.Second)
	for p.d.h.subscribers.Load() == before {
		if time.Now().After(deadline) {
			t.Fatal("procd never served the events subscription")
		}
		time.Sleep(time.Millisecond)
	}
	return evStream{st, cancel}
}

// nextEvents reads n events (process:type) from st, failing after a while.
func nextEvents(t *testing.T, st evStream, n int) []string {
	t.Helper()
	type result struct {
		evs []string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		var r result
		for len(r.evs) < n && r.err == nil {
			var ev *mgmt.EventsStreamPayload
			if ev, r.err = st.Recv(); r.err == nil {
				r.evs = append(r.evs, ev.ProcessID+":"+ev.Type)
			}
		}
		ch <- r
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("events after %v: %v", r.evs, r.err)
		}
		return r.evs
	case <-time.After(10 * time.Second):
		st.cancel()
		r := <-ch
		t.Fatalf("got %d of %d events: %v", len(r.evs), n, r.evs)
		return nil
	}
}

// assertNoEvent checks that st delivers nothing within d, then ends it.
func assertNoEvent(t *testing.T, st evStream, d time.Duration) {
	t.Helper()
	ch := make(chan *mgmt.EventsStreamPayload, 1)
	go func() {
		ev, _ := st.Recv()
		ch <- ev
	}()
	select {
	case ev := <-ch:
		if ev != nil {
			t.Errorf("unexpected event %+v", ev)
		}
	case <-time.After(d):
		st.cancel() // ends the Recv above
		<-ch
	}
}

// procStat returns the state letter and process group of pid, ok false when
// pid does not exist.
func procStat(pid int) (state byte, pgrp int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// pid (comm) state ppid pgrp ...; comm may hold spaces.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 3 {
		return 0, 0, false
	}
	pgrp, _ = strconv.Atoi(f[2])
	return f[0][0], pgrp, true
}

// groupAlive lists the live (non-zombie) members of process group pgid,
// reaping zombies re-parented to the test binary.
func groupAlive(pgid int) []int {
	ents, _ := os.ReadDir("/proc")
	var alive []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		state, pgrp, ok := procStat(pid)
		switch {
		case !ok || pgrp != pgid:
		case state == 'Z':
			var ws syscall.WaitStatus
			_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		default:
			alive = append(alive, pid)
		}
	}
	return alive
}

// assertGone checks that nothing of pid's process group is alive, nor pid.
func assertGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		alive := groupAlive(pid)
		if state, _, ok := procStat(pid); ok && state != 'Z' && len(alive) == 0 {
			alive = append(alive, pid)
		}
		if len(alive) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d: still alive in its group: %v", pid, alive)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
