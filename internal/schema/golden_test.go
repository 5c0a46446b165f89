package schema

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the .golden files of testdata/errors")

// TestErrorsGolden parses every testdata/errors/<case>.yaml, which must fail,
// and compares the error text (what mgmtgen prints on stderr) with
// <case>.golden.
func TestErrorsGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 30 {
		t.Fatalf("found %d error cases, want at least 30", len(files))
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			path := filepath.ToSlash(file)
			f, err := Load(path)
			if err == nil {
				t.Fatalf("Load(%s) succeeded, want errors (model: %+v)", path, f)
			}
			if f != nil {
				t.Errorf("Load(%s) returned a model together with errors", path)
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error is %T, want ErrorList: %v", err, err)
			}
			checkSorted(t, list)
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("errors differ from %s (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}

// checkSorted asserts list is sorted by position, every entry prefixed by
// the path and lower-case.
func checkSorted(t *testing.T, list ErrorList) {
	t.Helper()
	for i, e := range list {
		if e.Msg == "" || strings.ToLower(e.Msg[:1]) != e.Msg[:1] {
			t.Errorf("message %q does not start lower-case", e.Msg)
		}
		if e.Pos.Line < 1 {
			t.Errorf("error %q has no line", e)
		}
		if i == 0 {
			continue
		}
		p, q := list[i-1].Pos, e.Pos
		if p.Line > q.Line || p.Line == q.Line && p.Col > q.Col {
			t.Errorf("errors not sorted: %q before %q", list[i-1], e)
		}
	}
}
