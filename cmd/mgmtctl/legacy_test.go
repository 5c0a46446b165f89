package main

import (
	"encoding/json"
	"fmt"
	"net"
	"sync"
	"testing"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// legacyManager answers as the real cliwrap manager does (docs/wire.md,
// "What the cliwrap manager answers"): Stop with an empty entry, Start as an
// unknown request type, a stopped process keeping its last pid.
type legacyManager struct {
	socket string

	mu      sync.Mutex
	procs   map[string]*mgmt.ListEntry
	vanish  map[string]bool // Status answers "not found" once these are stopped
	stopped []string        // Stop requests, in order
}

func startLegacyManager(t *testing.T, ids ...string) *legacyManager {
	t.Helper()
	m := &legacyManager{
		procs:  map[string]*mgmt.ListEntry{},
		vanish: map[string]bool{},
	}
	for i, id := range ids {
		m.procs[id] = &mgmt.ListEntry{ID: id, State: "running", ChildPID: 4200 + i}
	}
	m.socket = startFake(t, func(nc net.Conn, h ipc.Header, body []byte) bool {
		resp, typ := m.answer(h.MsgType, body)
		return send(nc, h, typ, resp)
	}).socket
	return m
}

func (m *legacyManager) answer(typ ipc.MsgType, body []byte) (msgp.Marshaler, ipc.MsgType) {
	m.mu.Lock()
	defer m.mu.Unlock()
	const notFound = "cliwrap: process not found"
	switch typ {
	case mgmt.MsgListRequest:
		resp := &mgmt.ListResponsePayload{Entries: []mgmt.ListEntry{}}
		for _, e := range m.procs {
			resp.Entries = append(resp.Entries, *e)
		}
		return resp, mgmt.MsgListResponse
	case mgmt.MsgStatusRequest:
		var req mgmt.StatusRequestPayload
		_ = ipc.DecodePayload(body, &req)
		e, ok := m.procs[req.ID]
		if !ok || (m.vanish[req.ID] && e.State == "stopped") {
			return &mgmt.StatusResponsePayload{Err: notFound}, mgmt.MsgStatusResponse
		}
		return &mgmt.StatusResponsePayload{Entry: *e}, mgmt.MsgStatusResponse
	case mgmt.MsgStopRequest:
		var req mgmt.StopRequestPayload
		_ = ipc.DecodePayload(body, &req)
		m.stopped = append(m.stopped, req.ID)
		e, ok := m.procs[req.ID]
		if !ok {
			return &mgmt.StatusResponsePayload{Err: notFound}, mgmt.MsgStatusResponse
		}
		e.State = "stopped" // the pid stays: the last child's
		return &mgmt.StatusResponsePayload{}, mgmt.MsgStatusResponse
	}
	return &mgmt.StatusResponsePayload{Err: fmt.Sprintf("unknown request type 0x%02x", uint8(typ))}, mgmt.MsgStatusResponse
}

// mgmtctl stop and start against a cliwrap manager: a stop is reported with
// the state Status gives; start is named as unsupported.
func TestStartStopLegacyManager(t *testing.T) {
	m := startLegacyManager(t, "web", "db", "gone")
	m.vanish["gone"] = true
	sock := []string{"--socket", m.socket}
	for _, tc := range []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"stop", "web"}, 0, "web: stopped (pid 4200)\n", ""},
		{[]string{"stop", "gone"}, 0, "gone: stopped\n", ""},
		{[]string{"stop", "nope"}, 1, "", "mgmtctl: stop nope: cliwrap: process not found\n"},
		{[]string{"start", "web"}, 1, "", `mgmtctl: start web: the manager does not support start (it answered "unknown request type 0xa8")` + "\n"},
		{[]string{"start", "web", "db"}, 1, "",
			`mgmtctl: start web: the manager does not support start (it answered "unknown request type 0xa8")` + "\n" +
				`mgmtctl: start db: the manager does not support start (it answered "unknown request type 0xa8")` + "\n" +
				"mgmtctl: start: 2 of 2 failed\n"},
	} {
		r := ctl(t, append(sock, tc.args...)...)
		if r.code != tc.code || r.stdout != tc.stdout || r.stderr != tc.stderr {
			t.Errorf("%v: %v\nwant exit %d, stdout %q, stderr %q", tc.args, r, tc.code, tc.stdout, tc.stderr)
		}
	}
	r := ctlOK(t, append(sock, "--json", "stop", "db")...)
	var got []entryOut
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("--json stop db: %v\n%s", err, r.stdout)
	}
	if want := []entryOut{{ID: "db", State: "stopped", PID: 4201}}; len(got) != 1 || got[0] != want[0] {
		t.Errorf("--json stop db: %+v, want %+v", got, want)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if fmt.Sprint(m.stopped) != "[web gone nope db]" {
		t.Errorf("stop requests the manager saw: %v", m.stopped)
	}
}
