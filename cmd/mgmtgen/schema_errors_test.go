package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

// TestEverySchemaError runs the shipped command (the real schema loader) on
// every bad schema of internal/schema/testdata/errors: it must exit 1, print
// exactly the errors the parser's golden file lists and then its one-line
// summary, and write nothing.
func TestEverySchemaError(t *testing.T) {
	t.Chdir("../../internal/schema")
	cases, err := filepath.Glob("testdata/errors/*.yaml")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, path := range cases {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(strings.TrimSuffix(path, ".yaml") + ".golden")
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "gen")
			var stdout, stderr bytes.Buffer
			code := run([]string{"-schema", path, "-out", out}, nil, &stdout, &stderr, schema.Load)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			want = append(want, "mgmtgen: schema has errors; nothing written\n"...)
			if got := stderr.String(); got != string(want) {
				t.Errorf("stderr:\n%s\nwant:\n%s", got, want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout: %q", stdout.String())
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("output directory written (%v)", err)
			}
		})
	}
}
