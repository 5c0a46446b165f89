package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// chatty prints known lines on both streams, then more when triggered.
var chatty = `echo out1; echo err1 >&2; echo out2; echo err2 >&2; echo out3; ` + waitFor("go") +
	`; echo out4; echo err3 >&2; ` + waitFor("more") + `; echo out5; echo err4 >&2; exec sleep 30`

func TestLogsSnapshot(t *testing.T) {
	d := startProcd(t, shProc("c", chatty))
	eventually(t, func() bool { return ctl(t, "--socket", d.socket, "logs", "c").stdout == "out1\nout2\nout3\n" },
		func() string { return "never printed out1..3" })
	eventually(t, func() bool { return ctl(t, "--socket", d.socket, "logs", "c").stderr == "err1\nerr2\n" },
		func() string { return "never printed err1..2" })
	for _, tc := range []struct {
		args           []string
		stdout, stderr string
	}{
		{[]string{"logs", "c"}, "out1\nout2\nout3\n", "err1\nerr2\n"},
		{[]string{"logs", "--stream", "all", "c"}, "out1\nout2\nout3\n", "err1\nerr2\n"},
		{[]string{"logs", "--stream", "stdout", "c"}, "out1\nout2\nout3\n", ""},
		{[]string{"logs", "c", "--stream", "stderr"}, "", "err1\nerr2\n"},
		{[]string{"logs", "-n", "2", "c"}, "out2\nout3\n", "err1\nerr2\n"},
		{[]string{"logs", "-n", "1", "--stream=stderr", "c"}, "", "err2\n"},
		{[]string{"logs", "--since", "1h", "c"}, "out1\nout2\nout3\n", "err1\nerr2\n"},
	} {
		r := ctl(t, append([]string{"--socket", d.socket}, tc.args...)...)
		if r.code != 0 || r.stdout != tc.stdout || r.stderr != tc.stderr {
			t.Errorf("%v: %v", tc.args, r)
		}
	}
	// --since: only the output of the last moments.
	time.Sleep(time.Second)
	d.trigger(t, "go")
	eventually(t, func() bool { return strings.HasSuffix(ctl(t, "--socket", d.socket, "logs", "c").stderr, "err3\n") },
		func() string { return "never printed err3" })
	r := ctlOK(t, "--socket", d.socket, "logs", "--since", "500ms", "c")
	if r.stdout != "out4\n" || r.stderr != "err3\n" {
		t.Errorf("logs --since 500ms: %v", r)
	}
	r = ctl(t, "--socket", d.socket, "logs", "nope")
	if r.code != 69 || r.stdout != "" || r.stderr != "mgmtctl: logs nope: unknown process \"nope\"\n" { // NotFound
		t.Errorf("logs of an unknown id: %v", r)
	}
}

func TestLogsFollowEndsOnCtrlC(t *testing.T) {
	d := startProcd(t, shProc("c", chatty))
	eventually(t, func() bool { return ctl(t, "--socket", d.socket, "logs", "c").stderr == "err1\nerr2\n" },
		func() string { return "never printed err1..2" })
	b := ctlBackground("--socket", d.socket, "logs", "-f", "-n", "1", "c")
	eventually(t, func() bool { return b.out.String() == "out3\n" && b.errOut.String() == "err2\n" },
		func() string { return "follow snapshot: " + b.out.String() + "|" + b.errOut.String() })
	d.trigger(t, "go")
	eventually(t, func() bool { return b.out.String() == "out3\nout4\n" && b.errOut.String() == "err2\nerr3\n" },
		func() string { return "follow: " + b.out.String() + "|" + b.errOut.String() })
	b.cancel()
	if code := b.wait(t); code != 0 {
		t.Errorf("logs -f after Ctrl-C: exit %d, stderr %q", code, b.errOut.String())
	}

	// A follow that the manager ends (shutdown) fails with a clear message.
	b = ctlBackground("--socket", d.socket, "logs", "--follow", "--stream", "stdout", "c")
	eventually(t, func() bool { return strings.Contains(b.out.String(), "out4") },
		func() string { return "second follow: " + b.out.String() })
	d.shutdown(t)
	if code := b.wait(t); code != 1 || !strings.Contains(b.errOut.String(), "logs c: the manager ended the stream") {
		t.Errorf("follow ended by the manager: exit %d, stderr %q", code, b.errOut.String())
	}
}

func TestEventsFilters(t *testing.T) {
	d := startProcd(t, shProc("a", sleeper)+shProc("b", sleeper))
	eventually(t, func() bool { return strings.Count(ctlOK(t, "--socket", d.socket, "list").stdout, "running") == 2 },
		func() string { return "never both running" })
	all := ctlBackground("--socket", d.socket, "events")
	onlyA := ctlBackground("--socket", d.socket, "events", "--process", "a", "--type", "process.stopped,process.started")
	jsonB := ctlBackground("--socket", d.socket, "--json", "events", "--process=b")
	time.Sleep(500 * time.Millisecond) // no answer to a subscription: give procd a moment
	ctlOK(t, "--socket", d.socket, "stop", "a", "b")
	ctlOK(t, "--socket", d.socket, "start", "a")
	eventually(t, func() bool { return strings.Count(all.out.String(), "\n") == 6 },
		func() string { return "all events: " + all.out.String() })
	eventually(t, func() bool { return strings.Count(onlyA.out.String(), "\n") == 2 },
		func() string { return "a's events: " + onlyA.out.String() })
	eventually(t, func() bool { return strings.Count(jsonB.out.String(), "\n") == 2 },
		func() string { return "b's events: " + jsonB.out.String() })
	time.Sleep(50 * time.Millisecond) // nothing more arrives
	for _, b := range []*background{all, onlyA, jsonB} {
		b.cancel()
		if code := b.wait(t); code != 0 || b.errOut.String() != "" {
			t.Errorf("events after Ctrl-C: exit %d, stderr %q", code, b.errOut.String())
		}
	}
	for i, want := range []string{
		`a +process\.stopped +stopped: .*`,
		`a +process\.started +started with pid \d+`,
	} {
		got := strings.Split(onlyA.out.String(), "\n")[i]
		if !regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{3}  ` + want + `$`).MatchString(got) {
			t.Errorf("event line %q, want %s", got, want)
		}
	}
	if c := strings.Count(all.out.String(), "process.stopping"); c != 2 {
		t.Errorf("unfiltered events:\n%s", all.out.String())
	}
	r := ctl(t, "--socket", d.socket, "events", "--process", "a,nope")
	if r.code != 69 || r.stderr != "mgmtctl: events --process nope: unknown process \"nope\"\n" { // NotFound
		t.Errorf("events for an unknown id: %v", r)
	}
	for i, l := range strings.Split(strings.TrimSpace(jsonB.out.String()), "\n") {
		var ev struct{ Process, Type, Summary, Time string }
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.Process != "b" || ev.Type != []string{"process.stopping", "process.stopped"}[i] || ev.Time == "" {
			t.Errorf("json event %q: %v %+v", l, err, ev)
		}
	}
}

// TestSignalsEndStreams runs mgmtctl as a real process and ends logs -f and
// events with SIGINT: exit status 0, nothing on stderr.
func TestSignalsEndStreams(t *testing.T) {
	d := startProcd(t, shProc("c", chatty))
	for _, args := range [][]string{
		{"logs", "-f", "--stream", "stdout", "c"},
		{"events", "--process", "c"},
	} {
		var out, errOut syncBuffer
		cmd := ctlProcess(t, &out, &errOut, append([]string{"--socket", d.socket}, args...)...)
		if args[0] == "logs" {
			eventually(t, func() bool { return strings.Contains(out.String(), "out3\n") },
				func() string { return "logs -f printed " + out.String() })
		} else {
			// Nothing says when the subscription is live: stop (and restart)
			// c until the stop shows.
			eventually(t, func() bool {
				ctlOK(t, "--socket", d.socket, "stop", "c")
				if strings.Contains(out.String(), "process.stopped") {
					return true
				}
				ctlOK(t, "--socket", d.socket, "start", "c")
				return false
			}, func() string { return "events printed " + out.String() })
		}
		cmd.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil || errOut.String() != "" {
				t.Errorf("%v after SIGINT: %v, stderr %q", args, err, errOut.String())
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Errorf("%v: still running 10s after SIGINT", args)
		}
	}
}
