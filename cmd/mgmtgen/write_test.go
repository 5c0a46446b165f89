package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/internal/codegen"
)

// TestWriteFilesOnlyChanged: current files are not rewritten (their mtime
// stays), changed ones are replaced, no temporary files are left.
func TestWriteFilesOnlyChanged(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	files := []codegen.OutFile{{Name: "a.go", Content: []byte("package a\n")}, {Name: "b.go", Content: []byte("package a\n\n// b\n")}}
	if n, err := writeFiles(dir, files); err != nil || fmt.Sprint(n) != "[a.go b.go]" {
		t.Fatalf("first write: %v, %v", n, err)
	}
	past := time.Now().Add(-time.Hour).Truncate(time.Second)
	for _, f := range files {
		if err := os.Chtimes(filepath.Join(dir, f.Name), past, past); err != nil {
			t.Fatal(err)
		}
	}
	files[1].Content = []byte("package a\n\n// b changed\n")
	if n, err := writeFiles(dir, files); err != nil || fmt.Sprint(n) != "[b.go]" {
		t.Fatalf("second write: %v, %v", n, err)
	}
	if st, _ := os.Stat(filepath.Join(dir, "a.go")); !st.ModTime().Equal(past) {
		t.Errorf("a.go rewritten: mtime %v", st.ModTime())
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "b.go")); string(got) != string(files[1].Content) {
		t.Errorf("b.go = %q", got)
	}
	if st, _ := os.Stat(filepath.Join(dir, "b.go")); st.Mode().Perm() != 0o644 {
		t.Errorf("b.go mode %v", st.Mode())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("directory holds %d entries, want 2", len(entries))
	}
}

// TestWriteFilesError: an unwritable target reports an error and leaves no
// temporary file behind.
func TestWriteFilesError(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "a.go"), 0o755); err != nil { // a directory where a file goes
		t.Fatal(err)
	}
	if _, err := writeFiles(dir, []codegen.OutFile{{Name: "a.go", Content: []byte("x")}}); err == nil {
		t.Fatal("no error")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want 1", len(entries))
	}
}

// TestFormatErrorWritesBroken: output that go/format rejects is kept as
// <file>.broken and reported.
func TestFormatErrorWritesBroken(t *testing.T) {
	dir := t.TempDir()
	var stderr stringWriter
	err := &codegen.FormatError{Name: "x.go", Content: []byte("package x\nfunc {"), Err: os.ErrInvalid}
	if code := reportGenerateError(&stderr, options{out: dir}, err); code != exitFail {
		t.Errorf("exit %d", code)
	}
	if b, rerr := os.ReadFile(filepath.Join(dir, "x.go.broken")); rerr != nil || string(b) != "package x\nfunc {" {
		t.Errorf("x.go.broken: %q, %v", b, rerr)
	}
	if want := "mgmtgen: invalid argument (wrote " + filepath.Join(dir, "x.go.broken") + ")\n"; stderr.s != want {
		t.Errorf("stderr %q", stderr.s)
	}
}

type stringWriter struct{ s string }

func (w *stringWriter) Write(p []byte) (int, error) { w.s += string(p); return len(p), nil }
