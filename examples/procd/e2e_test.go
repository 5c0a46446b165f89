package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/examples/procd/supervisor"
	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/client"
)

// shProc is the YAML of a process running script with /bin/sh -c; extra
// holds more keys (stop_timeout defaults to 2s).
func shProc(id, script, extra string) string {
	if !strings.Contains(extra, "stop_timeout:") {
		extra += "    stop_timeout: 2s\n"
	}
	return fmt.Sprintf("  - id: %s\n    command: /bin/sh\n    args: [-c, %q]\n%s", id, script, extra)
}

func TestLogsSnapshotPerStream(t *testing.T) {
	// 200 lines each, interleaved, one write per line: many chunks.
	script := `i=0; while [ $i -lt 200 ]; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); done; echo end; echo end >&2; exec sleep 30`
	p := startProcd(t, shProc("chatty", script, "    restart: never\n"))
	var wantOut, wantErr strings.Builder
	for i := range 200 {
		fmt.Fprintf(&wantOut, "out %d\n", i)
		fmt.Fprintf(&wantErr, "err %d\n", i)
	}
	wantOut.WriteString("end\n")
	wantErr.WriteString("end\n")
	if got := p.waitOutput(t, "chatty", 0, "end\n"); got != wantOut.String() {
		t.Errorf("stdout snapshot:\n%q\nwant\n%q", got, wantOut.String())
	}
	if got := p.waitOutput(t, "chatty", 1, "end\n"); got != wantErr.String() {
		t.Errorf("stderr snapshot:\n%q\nwant\n%q", got, wantErr.String())
	}
}

func TestLogsFollowSeesNewOutput(t *testing.T) {
	p := startProcd(t, shProc("f", `echo before; `+waitFor("go")+`; echo after1; echo after2 >&2; echo after3; exec sleep 30`, ""))
	p.waitOutput(t, "f", 0, "before\n")
	st, err := p.client.Logs(testCtx(t), &mgmt.LogsRequestPayload{ID: "f", Stream: 0, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	first, err := st.Recv()
	if err != nil || first.EOF || string(first.Data) != "before\n" {
		t.Fatalf("follow: first frame %+v, %v; want the snapshot with EOF false", first, err)
	}
	p.trigger(t, "go")
	var got string
	for got != "after1\nafter3\n" {
		f, err := st.Recv()
		if err != nil {
			t.Fatalf("follow after %q: %v", got, err)
		}
		if f.EOF || f.Stream != 0 || f.ID != "f" {
			t.Fatalf("follow frame %+v", f)
		}
		got += string(f.Data)
		if !strings.HasPrefix("after1\nafter3\n", got) {
			t.Fatalf("follow got %q", got)
		}
	}
}

func TestLogsSinceAndLines(t *testing.T) {
	p := startProcd(t, shProc("s", `echo a1; echo a2; echo a3; `+waitFor("go")+`; echo b1; echo b2; printf b3; exec sleep 30`, ""))
	p.waitOutput(t, "s", 0, "a3\n")
	time.Sleep(5 * time.Millisecond)
	since := time.Now().UnixNano()
	time.Sleep(5 * time.Millisecond)
	p.trigger(t, "go")
	p.waitOutput(t, "s", 0, "b3")
	for _, tc := range []struct {
		sn    int64
		ln    int
		want  string
		label string
	}{
		{0, 0, "a1\na2\na3\nb1\nb2\nb3", "everything"},
		{since, 0, "b1\nb2\nb3", "since"},
		{0, 2, "b2\nb3", "last 2 lines (the last one unterminated)"},
		{0, 4, "a3\nb1\nb2\nb3", "last 4 lines"},
		{since, 1, "b3", "since and last line"},
		{0, 100, "a1\na2\na3\nb1\nb2\nb3", "more lines than there are"},
		{time.Now().Add(time.Hour).UnixNano(), 0, "", "since in the future"},
	} {
		got := p.snapshot(t, mgmt.LogsRequestPayload{ID: "s", SinceUnixNano: tc.sn, Lines: tc.ln})
		if got != tc.want {
			t.Errorf("%s (sn %d, ln %d): %q, want %q", tc.label, tc.sn, tc.ln, got, tc.want)
		}
	}
}

func TestStopAndStartEvents(t *testing.T) {
	p := startProcd(t, shProc("svc", "exec sleep 30", "")+shProc("other", "exec sleep 30", ""))
	pid := p.waitState(t, "svc", "running").ChildPID
	p.waitState(t, "other", "running")
	st := p.events(t, []string{"svc"}, nil)
	resp, err := p.client.Stop(testCtx(t), &mgmt.StopRequestPayload{ID: "svc"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Entry.State != "stopped" || resp.Entry.ChildPID != 0 {
		t.Errorf("stop answered %+v", resp.Entry)
	}
	assertGone(t, pid)
	if _, err := p.client.Stop(testCtx(t), &mgmt.StopRequestPayload{ID: "other"}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(nextEvents(t, st, 2), " "); got != "svc:process.stopping svc:process.stopped" {
		t.Errorf("stop events: %s", got)
	}
	resp, err = p.client.Start(testCtx(t), &mgmt.StartRequestPayload{ID: "svc"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Entry.State != "running" || resp.Entry.ChildPID <= 0 || resp.Entry.ChildPID == pid {
		t.Errorf("start answered %+v", resp.Entry)
	}
	if got := strings.Join(nextEvents(t, st, 2), " "); got != "svc:process.starting svc:process.started" {
		t.Errorf("start events: %s", got)
	}
	_, err = p.client.Start(testCtx(t), &mgmt.StartRequestPayload{ID: "svc"})
	var re *client.RemoteError
	if !errors.As(err, &re) || !strings.Contains(re.Text, "already running") {
		t.Errorf("second start: %v", err)
	}
	_, err = p.client.Stop(testCtx(t), &mgmt.StopRequestPayload{ID: "nope"})
	if !errors.As(err, &re) || re.Text != `unknown process "nope"` {
		t.Errorf("stop of an unknown id: %v", err)
	}
}

func TestCrashRestartFailed(t *testing.T) {
	p := startProcd(t,
		shProc("crasher", waitFor("go")+"; echo dying >&2; exit 3",
			"    restart: on-failure\n    max_restarts: 2\n    backoff: 20ms\n")+
			shProc("bystander", "exec sleep 30", ""))
	p.waitState(t, "crasher", "running")
	p.waitState(t, "bystander", "running")
	all := p.events(t, nil, nil)
	crashes := p.events(t, []string{"crasher"}, []string{"process.crashed"})
	final := p.events(t, []string{"crasher", "bystander"}, []string{"process.failed", "process.stopped"})
	byst := p.events(t, []string{"bystander"}, nil)
	p.trigger(t, "go")
	want := "crashed restarting starting started crashed restarting starting started crashed failed"
	got := nextEvents(t, all, 10)
	if strings.Join(got, " ") != "crasher:process."+strings.ReplaceAll(want, " ", " crasher:process.") {
		t.Errorf("events: %v\nwant %s", got, want)
	}
	if got := nextEvents(t, crashes, 3); strings.Join(got, " ") != "crasher:process.crashed crasher:process.crashed crasher:process.crashed" {
		t.Errorf("crashed events: %v", got)
	}
	if got := nextEvents(t, final, 1); got[0] != "crasher:process.failed" {
		t.Errorf("failed/stopped events: %v", got)
	}
	e := p.waitState(t, "crasher", "failed")
	if e.ChildPID != 0 {
		t.Errorf("failed entry %+v", e)
	}
	if out := p.snapshot(t, mgmt.LogsRequestPayload{ID: "crasher", Stream: 1}); out != "dying\ndying\ndying\n" {
		t.Errorf("stderr over the restarts: %q", out)
	}
	assertNoEvent(t, byst, 50*time.Millisecond)
	assertNoEvent(t, final, 10*time.Millisecond)
}

func TestTwentyProcesses(t *testing.T) {
	var yaml strings.Builder
	for i := range 20 {
		yaml.WriteString(shProc(fmt.Sprintf("p%02d", i), "exec sleep 30", ""))
	}
	p := startProcd(t, yaml.String())
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := p.client.List(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		if problem := checkAllRunning(resp.Entries, 20); problem == "" {
			for _, e := range resp.Entries {
				defer assertGone(t, e.ChildPID) // after the shutdown below
			}
			break
		} else if time.Now().After(deadline) {
			t.Fatal(problem)
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.shutdown()
}

// checkAllRunning describes what is wrong with a list that should hold n
// running processes p00.. with distinct pids, or returns "".
func checkAllRunning(entries []mgmt.ListEntry, n int) string {
	if len(entries) != n {
		return fmt.Sprintf("%d entries, want %d", len(entries), n)
	}
	pids := make(map[int]bool)
	for i, e := range entries {
		if e.ID != fmt.Sprintf("p%02d", i) || e.State != "running" || e.ChildPID <= 0 || pids[e.ChildPID] {
			return fmt.Sprintf("entry %d: %+v", i, e)
		}
		pids[e.ChildPID] = true
	}
	return ""
}

func TestRunUsageAndStartErrors(t *testing.T) {
	p := startProcd(t, shProc("x", "exec sleep 30", ""))
	cfg := filepath.Join(p.dir, "c.yaml")
	if err := os.WriteFile(cfg, []byte("runtime_dir: /nonexistent\nprocesses:\n"+shProc("y", "exec sleep 30", "")), 0o600); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		args []string
		code int
	}{
		{nil, 2},
		{[]string{"-config", cfg, "extra"}, 2},
		{[]string{"-config", cfg, "-socket", "/a", "-runtime-dir", "/b"}, 2},
		{[]string{"-config", cfg, "-bogus"}, 2},
		{[]string{"-config", filepath.Join(p.dir, "missing.yaml")}, 1},
		// A live procd's socket is never taken over.
		{[]string{"-config", cfg, "-socket", p.socket}, 1},
	} {
		if code := run(tc.args, log); code != tc.code {
			t.Errorf("procd %q: exit %d, want %d", tc.args, code, tc.code)
		}
	}
	if _, err := p.client.List(testCtx(t)); err != nil {
		t.Errorf("the first procd after a second one tried its socket: %v", err)
	}
}

// TestStopDuringStartup: a Stop that arrives before procd has started its
// processes is not undone by the startup.
func TestStopDuringStartup(t *testing.T) {
	dir := shortDir(t)
	cfg, err := supervisor.ParseConfig("test.yaml", []byte("runtime_dir: "+dir+"\nprocesses:\n"+shProc("x", "exec sleep 30", "")))
	if err != nil {
		t.Fatal(err)
	}
	d, err := newDaemon(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	stopped := make(chan error, 1)
	go func() {
		_, err := d.h.Stop(context.Background(), &mgmt.StopRequestPayload{ID: "x"})
		stopped <- err
	}()
	time.Sleep(20 * time.Millisecond) // the Stop is waiting for the startup
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.run(ctx, 5*time.Second) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if e, _ := d.sup.Status("x"); e.State != supervisor.StateStopped {
		t.Errorf("after a stop during startup: %+v", e)
	}
}

// TestStopPassesThroughStopping: a child that takes its time after SIGTERM
// is seen "stopping" until it exits, then "stopped".
func TestStopPassesThroughStopping(t *testing.T) {
	p := startProcd(t, shProc("slow", `trap "sleep 0.3; echo bye; exit 0" TERM; echo ready; sleep 30 & wait`, ""))
	p.waitOutput(t, "slow", 0, "ready\n")
	st := p.events(t, []string{"slow"}, nil)
	stopped := make(chan error, 1)
	go func() {
		_, err := p.client.Stop(testCtx(t), &mgmt.StopRequestPayload{ID: "slow"})
		stopped <- err
	}()
	p.waitState(t, "slow", "stopping")
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if e := p.waitState(t, "slow", "stopped"); e.ChildPID != 0 {
		t.Errorf("stopped entry %+v", e)
	}
	if got := strings.Join(nextEvents(t, st, 2), " "); got != "slow:process.stopping slow:process.stopped" {
		t.Errorf("events %s", got)
	}
	if out := p.snapshot(t, mgmt.LogsRequestPayload{ID: "slow"}); out != "ready\nbye\n" {
		t.Errorf("output %q", out)
	}
}

// TestStreamCloseDuringRecv: closing a stream from another goroutine
// unblocks a Recv waiting in it, without a data race (run under -race).
func TestStreamCloseDuringRecv(t *testing.T) {
	p := startProcd(t, shProc("x", "exec sleep 30", ""))
	st, err := p.client.Events(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		st.Recv() // blocks: no event comes
	}()
	time.Sleep(50 * time.Millisecond)
	st.Close()
	<-done
}
