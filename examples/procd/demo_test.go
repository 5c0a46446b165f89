package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDemo runs demo.sh (what `make demo` runs) with short pauses: it
// builds both commands, tours every mgmtctl command against a real procd and
// checks that nothing is left behind. Skipped with -short.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo: builds procd and mgmtctl, several seconds")
	}
	if _, err := exec.LookPath("timeout"); err != nil {
		t.Skip("the demo needs coreutils' timeout")
	}
	tmp := t.TempDir()
	cmd := exec.Command("/bin/sh", "demo.sh")
	cmd.Env = append(os.Environ(), "DEMO_SECONDS=1", "GO="+goTool(), "TMPDIR="+tmp)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo.sh: %v\n%s", err, out)
	}
	for _, want := range []string{
		"==> mgmtgen: the protocol is data, schema/mgmt.yaml; its calls (docs left out):\ncalls:\n  List:\n    request: ListRequest\n",
		"$ cd gen/mgmt && go tool mgmtgen -v -schema ../../schema/mgmt.yaml -out .\n4 files up to date\n",
		"func (c *Client) Status(ctx context.Context, req *StatusRequestPayload) (*StatusResponsePayload, error)\n",
		"==> list the processes\n$ mgmtctl list\nID ",
		"==> status of one process\n$ mgmtctl status chatty\nid:     chatty\n",
		"error: lost the connection\n",
		"flaky      process.crashed    exit status 1\n",
		"flaky: stopped\nsleeper: stopped\n",
		"sleeper: running (pid ",
		"got SIGTERM, finishing up\n",
		"procd exited with status 0",
		"no process started by procd is alive",
		"==> done\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	// chatty prints a line every 0.3 s, so which lines the last-6 snapshot
	// holds depends on how long the steps before it took: any of them will do.
	snapshot, _, _ := strings.Cut(string(out), "==> follow chatty's stdout")
	if _, snapshot, _ = strings.Cut(snapshot, "==> logs: a snapshot"); !chattyLine.MatchString(snapshot) {
		t.Errorf("demo output lacks a line of chatty's (hello N) from the logs snapshot:\n%s", out)
	}
	if strings.Contains(string(out), "cannot open") {
		t.Errorf("demo output has shell errors:\n%s", out)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "*")); len(left) != 0 {
		t.Errorf("demo left %v behind", left)
	}
}

// chattyLine is a stdout line of demo.yaml's chatty process.
var chattyLine = regexp.MustCompile(`(?m)^hello [0-9]+$`)

// goTool is the go command of the toolchain running the tests.
func goTool() string {
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); fileExists(p) {
			return p
		}
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
