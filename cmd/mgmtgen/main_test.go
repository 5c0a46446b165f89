package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"mgmtgen": main, "legacyserver": legacyServerMain})
}

// TestScripts runs testdata/script/*.txtar against the command as shipped.
// Scripts get procd (built once per run) on their PATH, $SCHEMA (the path of
// schema/mgmt.yaml) and the waitsock command.
func TestScripts(t *testing.T) {
	procdDir := buildProcd(t)
	schema, err := filepath.Abs("../../schema/mgmt.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Socket directories must be short (server.MaxSocketDirLen) and private.
	root, err := os.MkdirTemp("", "mg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	testscript.Run(t, testscript.Params{
		Dir:         "testdata/script",
		WorkdirRoot: root,
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", procdDir+string(os.PathListSeparator)+env.Getenv("PATH"))
			env.Setenv("SCHEMA", schema)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){"waitsock": waitSock},
	})
}

// built is a command this test binary built, once per run, into a
// directory that outlives the tests.
type built struct {
	once sync.Once
	dir  string
	err  error
}

var procd, mgmtctl built

// build builds the package at pkg (relative to this directory) as name
// into b's directory, once, and returns the directory.
func (b *built) build(t *testing.T, name, pkg string) string {
	t.Helper()
	b.once.Do(func() {
		if b.dir, b.err = os.MkdirTemp("", "mgmtgen-"+name+"-"); b.err != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(b.dir, name), pkg).CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("building %s: %v\n%s", name, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.dir
}

// buildProcd builds examples/procd (scripts run it).
func buildProcd(t *testing.T) string { return procd.build(t, "procd", "../../examples/procd") }

// buildMgmtctl builds cmd/mgmtctl: the remote end of calls through ssh
// (mgmtctl dial-stdio).
func buildMgmtctl(t *testing.T) string { return mgmtctl.build(t, "mgmtctl", "../mgmtctl") }

// waitSock is "waitsock PATH": it waits until a server accepts on the Unix
// socket PATH, for at most a minute (a loaded machine starts servers slowly).
func waitSock(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitsock PATH")
	}
	path := ts.MkAbs(args[0])
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := os.Stat(path); err == nil {
			if c, err := dialUnix(path); err == nil {
				c.Close()
				return
			}
		}
		if time.Now().After(deadline) {
			ts.Fatalf("no server on %s after a minute", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
