package main

import (
	"net"
	"strings"
	"testing"

	"github.com/mgmtgen/mgmtgen/internal/exitcode"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/status"
)

// exitNotFound is procd's answer to an unknown id on an extended connection
// (its code NotFound): 64+5.
const exitNotFound = 64 + int(status.NotFound)

// Ctrl-C during a unary call (here a stop the manager never answers) ends
// mgmtctl at once with status 130, saying it was interrupted.
func TestCtrlCInterruptsACall(t *testing.T) {
	got := make(chan ipc.MsgType, 4)
	m := startFake(t, func(nc net.Conn, h ipc.Header, body []byte) bool {
		got <- h.MsgType
		return true // read on, never answer
	})
	b := ctlBackground("--socket", m.socket, "stop", "web")
	for t0 := range got {
		if t0 == 0xA9 { // the StopRequest arrived: the call is in flight
			break
		}
	}
	b.cancel()
	code := b.wait(t)
	if code != exitcode.Interrupted || b.out.String() != "" || !strings.HasPrefix(b.errOut.String(), "mgmtctl: stop web: ") ||
		b.errOut.String() != "mgmtctl: stop web: interrupted: context canceled\n" {
		t.Errorf("stop interrupted: exit %d, stdout %q, stderr %q; want exit 130 and the interruption on stderr",
			code, b.out.String(), b.errOut.String())
	}
}
