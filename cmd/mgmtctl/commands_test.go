package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

const sleeper = "echo ready; exec sleep 30"

func TestList(t *testing.T) {
	d := startProcd(t, shProc("web", sleeper)+shProc("db", sleeper)+shProc("done", "exit 0"))
	eventually(t, func() bool {
		out := ctlOK(t, "--socket", d.socket, "list").stdout
		return strings.Count(out, "running") == 2 && strings.Contains(out, "stopped")
	}, func() string { return "never two running and one stopped" })
	r := ctlOK(t, "--socket", d.socket, "list")
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 4 || !regexp.MustCompile(`^ID +NAME +STATE +PID +RSS$`).MatchString(lines[0]) {
		t.Fatalf("list:\n%s", r.stdout)
	}
	running := regexp.MustCompile(`^(web|db) +(web|db) process +running +[1-9][0-9]* +[0-9.]+(B|KiB|MiB|GiB)$`)
	for _, l := range lines[1:3] {
		if !running.MatchString(l) {
			t.Errorf("list row %q", l)
		}
	}
	if !regexp.MustCompile(`^done +done process +stopped +- +-$`).MatchString(lines[3]) {
		t.Errorf("list row %q", lines[3])
	}
	// Columns line up: every row's STATE starts where the header's does.
	col := strings.Index(lines[0], "STATE")
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l[col:], "running") && !strings.HasPrefix(l[col:], "stopped") {
			t.Errorf("row %q: STATE not at column %d", l, col)
		}
	}
	for _, args := range [][]string{{"--json", "list"}, {"list", "--json"}} {
		r := ctlOK(t, append([]string{"--socket", d.socket}, args...)...)
		var got []struct {
			ID, Name, State string
			PID             int
			RSS             uint64
		}
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || len(got) != 3 {
			t.Fatalf("%v: %v\n%s", args, err, r.stdout)
		}
		if got[0].ID != "web" || got[0].Name != "web process" || got[0].State != "running" || got[0].PID <= 0 || got[0].RSS == 0 {
			t.Errorf("%v: %+v", args, got[0])
		}
	}
}

func TestStatus(t *testing.T) {
	d := startProcd(t, shProc("web", sleeper))
	eventually(t, func() bool { return strings.Contains(ctl(t, "--socket", d.socket, "status", "web").stdout, "running") },
		func() string { return "web never running" })
	r := ctlOK(t, "--socket", d.socket, "status", "web")
	want := regexp.MustCompile(`^id: +web\nname: +web process\nstate: +running\npid: +[1-9][0-9]*\nrss: +[0-9.]+(B|KiB|MiB)\n$`)
	if !want.MatchString(r.stdout) || r.stderr != "" {
		t.Errorf("status: %v", r)
	}
	r = ctlOK(t, "--socket", d.socket, "--json", "status", "web")
	var got struct {
		ID, State string
		PID       int
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got.ID != "web" || got.State != "running" || got.PID <= 0 {
		t.Errorf("status --json: %v %+v\n%s", err, got, r.stdout)
	}
	r = ctl(t, "--socket", d.socket, "status", "nope")
	if r.code != 69 || r.stdout != "" || r.stderr != "mgmtctl: status nope: unknown process \"nope\"\n" { // NotFound
		t.Errorf("status of an unknown id: %v", r)
	}
}

func TestStartStop(t *testing.T) {
	d := startProcd(t, shProc("a", sleeper)+shProc("b", sleeper))
	r := ctlOK(t, "--socket", d.socket, "stop", "a", "b")
	if r.stdout != "a: stopped\nb: stopped\n" || r.stderr != "" {
		t.Errorf("stop a b: %v", r)
	}
	r = ctlOK(t, "--socket", d.socket, "start", "b", "a")
	if !regexp.MustCompile(`^b: running \(pid [0-9]+(, rss [0-9.]+[KM]?i?B)?\)\na: running \(pid [0-9]+.*\)\n$`).MatchString(r.stdout) {
		t.Errorf("start b a: %v", r)
	}
	r = ctl(t, "--socket", d.socket, "start", "a")
	if r.code != 73 || r.stdout != "" || !strings.HasPrefix(r.stderr, "mgmtctl: start a: ") || !strings.Contains(r.stderr, "already running") { // FailedPrecondition
		t.Errorf("start of a running process: %v", r)
	}
	r = ctl(t, "--socket", d.socket, "stop", "a", "nope", "b")
	wantErr := "mgmtctl: stop nope: unknown process \"nope\"\nmgmtctl: stop: 1 of 3 failed\n"
	if r.code != 69 || r.stdout != "a: stopped\nb: stopped\n" || r.stderr != wantErr { // NotFound
		t.Errorf("stop a nope b: %v", r)
	}
	r = ctl(t, "--socket", d.socket, "stop", "nope")
	if r.code != 69 || r.stderr != "mgmtctl: stop nope: unknown process \"nope\"\n" { // NotFound
		t.Errorf("stop nope: %v", r)
	}
	r = ctlOK(t, "--socket", d.socket, "--json", "start", "a")
	var got []struct{ ID, State string }
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || len(got) != 1 || got[0].ID != "a" || got[0].State != "running" {
		t.Errorf("start --json: %v %+v\n%s", err, got, r.stdout)
	}
}
