package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestUsingItInYourModule follows README's "Using it in your module" in a
// fresh module outside this one (testdata/module/readme.txtar): the real go
// command, the module cache and proxy of the machine, nothing else.
func TestUsingItInYourModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module of its own with the go command")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	goEnv := map[string]string{}
	out, err := exec.Command(goBin, "env", "GOCACHE", "GOMODCACHE", "GOPATH", "GOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE", "GOROOT").Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	for i, k := range []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE", "GOROOT"} {
		if i < len(lines) {
			goEnv[k] = lines[i]
		}
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata/module",
		Setup: func(e *testscript.Env) error {
			e.Setenv("MGMTGEN", root)
			e.Setenv("PATH", filepath.Dir(goBin)+string(os.PathListSeparator)+e.Getenv("PATH"))
			for k, v := range goEnv {
				e.Setenv(k, v)
			}
			e.Setenv("GOFLAGS", "-buildvcs=false") // as a user has it: not CI's -mod=readonly
			e.Setenv("GOTOOLCHAIN", "local")
			return nil
		},
	})
}

// TestReadmeSteps: every command of README's "Using it in your module" is a
// step of testdata/module/readme.txtar, so the README cannot drift from what
// TestUsingItInYourModule runs.
func TestReadmeSteps(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile("testdata/module/readme.txtar")
	if err != nil {
		t.Fatal(err)
	}
	steps := map[string]bool{}
	for _, l := range strings.Split(string(script), "\n") {
		if cmd, ok := strings.CutPrefix(l, "exec "); ok {
			steps[cmd] = true
		}
	}
	section := readmeSection(t, string(readme), "## Using it in your module")
	n := 0
	sc := bufio.NewScanner(strings.NewReader(section))
	inShell := false
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "```sh":
			inShell = true
		case l == "```":
			inShell = false
		case inShell && strings.HasPrefix(l, "go "):
			cmd, _, _ := strings.Cut(l, "  #") // a trailing comment
			n++
			if !steps[strings.TrimSpace(cmd)] {
				t.Errorf("README runs %q, which testdata/module/readme.txtar does not", cmd)
			}
		}
	}
	if n < 6 {
		t.Errorf("found %d go commands in README's section, want the whole recipe", n)
	}
	const line = "//go:generate go tool mgmtgen -schema ../schema/kv.yaml -out ."
	if !strings.Contains(string(script), "\n"+line+"\n") || !strings.Contains(section, line) {
		t.Errorf("README and readme.txtar do not both show %q", line)
	}
}

// TestOneGenerateForm: every go:generate line for mgmtgen that the project
// shows or runs has the one form, "go tool mgmtgen".
func TestOneGenerateForm(t *testing.T) {
	for _, f := range []string{"../../README.md", "main.go", "../../gen/mgmt/doc.go", "../../schema/README.md", "../../Makefile"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		if strings.Contains(text, "go run github.com/mgmtgen/mgmtgen/cmd/mgmtgen") {
			t.Errorf("%s runs mgmtgen with go run, not go tool", f)
		}
		for _, l := range strings.Split(text, "\n") {
			if _, g, ok := strings.Cut(l, "//go:generate "); ok && !strings.HasPrefix(g, "go tool mgmtgen ") {
				t.Errorf("%s: %q is not the go tool form", f, l)
			}
		}
	}
}

// readmeSection returns the text under heading, up to the next "## ".
func readmeSection(t *testing.T, readme, heading string) string {
	t.Helper()
	_, rest, ok := strings.Cut(readme, "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README has no %q", heading)
	}
	section, _, _ := strings.Cut(rest, "\n## ")
	return section
}
