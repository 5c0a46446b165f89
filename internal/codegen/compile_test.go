package codegen

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestGeneratedCode writes every case's generated package into a temporary
// module that requires this one (replace => the repository root) and runs
// `go test` there on the handwritten tests of testdata/roundtrip (the case's
// <name>*_test.go and helpers_test.go): round trips
// of every struct through the generated methods and through
// github.com/vmihailenco/msgpack/v5 in both directions, nil handling,
// integer widths, unknown keys and limits.
func TestGeneratedCode(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles and tests generated code in a temporary module")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	mod := t.TempDir()
	writeTempModule(t, root, mod)
	helpers := readFile(t, "testdata/roundtrip/helpers_test.go")
	for _, tc := range testCases {
		f := tc.model()
		files, err := Generate(f)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(mod, f.Package)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, out := range files {
			writeFile(t, filepath.Join(dir, out.Name), out.Content)
		}
		writeFile(t, filepath.Join(dir, "helpers_test.go"), setPackage(helpers, f.Package))
		own, err := filepath.Glob(filepath.Join("testdata/roundtrip", tc.name+"*_test.go"))
		if err != nil || len(own) == 0 {
			t.Fatalf("no testdata/roundtrip/%s*_test.go: %v", tc.name, err)
		}
		for _, path := range own {
			writeFile(t, filepath.Join(dir, filepath.Base(path)), readFile(t, path))
		}
	}
	args := []string{"test", "-count=1"}
	if testing.Verbose() {
		args = append(args, "-v")
	}
	cmd := exec.Command(goBin, append(args, "./...")...)
	cmd.Dir = mod
	// MGMTGEN_WIRE_DOC: every_wiredoc_test.go checks docs/wire.md's value examples.
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "MGMTGEN_WIRE_DOC="+filepath.Join(root, "docs", "wire.md"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go test in generated module: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// writeTempModule writes go.mod and go.sum of a module requiring this one
// with all of this module's requirements.
func writeTempModule(t *testing.T, root, mod string) {
	t.Helper()
	gomod := string(readFile(t, filepath.Join(root, "go.mod")))
	gomod = regexp.MustCompile(`(?m)^module .*$`).ReplaceAllString(gomod, "module example.com/gentest")
	gomod += "\nrequire github.com/mgmtgen/mgmtgen v0.0.0\n\nreplace github.com/mgmtgen/mgmtgen => " + root + "\n"
	writeFile(t, filepath.Join(mod, "go.mod"), []byte(gomod))
	writeFile(t, filepath.Join(mod, "go.sum"), readFile(t, filepath.Join(root, "go.sum")))
}

// setPackage replaces the package clause of a test source.
func setPackage(src []byte, pkg string) []byte {
	re := regexp.MustCompile(`(?m)^package \w+$`)
	return re.ReplaceAll(src, []byte("package "+strings.TrimSpace(pkg)))
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
