package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mgmtgen/mgmtgen/internal/schema"
	"github.com/mgmtgen/mgmtgen/internal/sshdial"
	"github.com/mgmtgen/mgmtgen/internal/sshtest"
)

// TestCallThroughSSH: "mgmtgen call" on a server behind a real sshd, as
// SOCKET ssh://... and as two -host addresses, one of them down: the answer
// of the host up is printed with its host, the one down is reported with
// ssh's message, and the exit status is the failed host's (4).
func TestCallThroughSSH(t *testing.T) {
	env := sshtest.New(t)
	port := env.Start()
	down := sshtest.FreePort(t)
	t.Setenv(sshdial.EnvCommand, env.SSH())
	t.Setenv(sshdial.EnvControlDir, env.ControlDir)
	t.Setenv(sshdial.EnvRemote, filepath.Join(buildMgmtctl(t), "mgmtctl"))
	sock := startLegacy(t)
	up := fmt.Sprintf("ssh://127.0.0.1:%d%s", port, sock)
	gone := fmt.Sprintf("ssh://127.0.0.1:%d%s", down, sock)
	call := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"call", "-schema", "../../schema/mgmt.yaml"}, args...), nil, &stdout, &stderr, schema.Load)
		return code, stdout.String(), stderr.String()
	}

	code, out, errOut := call(up, "Status", `{"ID":"web"}`)
	if code != 0 || !strings.Contains(out, `"ID": "web"`) {
		t.Fatalf("SOCKET %s: exit %d\n%s%s", up, code, out, errOut)
	}

	code, out, errOut = call("-host", up, "-host", gone, "List")
	t.Logf("mgmtgen call -host %s -host %s List:\nexit %d\n%s%s", up, gone, code, out, errOut)
	if code != callConn {
		t.Errorf("exit %d, want %d (the host down)", code, callConn)
	}
	var line struct {
		Host   string
		Answer struct{ Entries []struct{ ID string } }
	}
	if n := strings.Count(out, "\n"); n != 1 {
		t.Fatalf("stdout has %d lines, want the one answer:\n%s", n, out)
	}
	if err := json.Unmarshal([]byte(out), &line); err != nil || line.Host != up || len(line.Answer.Entries) == 0 {
		t.Fatalf("answer line %q: %+v, %v", out, line, err)
	}
	wantErr := "mgmtgen: " + gone + ": List: client: connection closed: ssh to " + gone + " failed (exit status 255): ssh: connect to host 127.0.0.1 port " + fmt.Sprint(down) + ": Connection refused\n"
	if errOut != wantErr {
		t.Errorf("stderr:\n%s\nwant\n%s", errOut, wantErr)
	}

	code, _, errOut = call("-host", up, "-host", gone, "Logs", `{"ID":"web"}`)
	if code != exitUsage || errOut != "mgmtgen: Logs is a stream: it follows one server, give one host\n" {
		t.Errorf("stream on two hosts: exit %d, %q", code, errOut)
	}
}
