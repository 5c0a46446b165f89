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

var (
	procdOnce sync.Once
	procdBin  string
	procdErr  error
)

// buildProcd builds examples/procd into a directory that outlives the
// test's, once per test binary run.
func buildProcd(t *testing.T) string {
	t.Helper()
	procdOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mgmtgen-procd-")
		if err != nil {
			procdErr = err
			return
		}
		procdBin = dir
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "procd"), "../../examples/procd").CombinedOutput()
		if err != nil {
			procdErr = fmt.Errorf("building procd: %v\n%s", err, out)
		}
	})
	if procdErr != nil {
		t.Fatal(procdErr)
	}
	return procdBin
}

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
