package codegen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

// TestGeneratedNameErrors: a valid schema whose names collide with names
// the generated code declares (package-level names, message constants, call
// types, Client methods, msgp's methods) is refused by Generate with every
// collision at its schema position, as testdata/errors/<case>.golden says
// (-update rewrites it).
func TestGeneratedNameErrors(t *testing.T) {
	yamls, err := filepath.Glob(filepath.Join("testdata", "errors", "*.yaml"))
	if err != nil || len(yamls) == 0 {
		t.Fatalf("no error cases: %v", err)
	}
	for _, y := range yamls {
		f, err := schema.Load(y)
		if err != nil {
			t.Fatalf("%s must be a valid schema: %v", y, err)
		}
		files, err := Generate(f)
		if err == nil {
			t.Errorf("%s: generated %d files, want an error", y, len(files))
			continue
		}
		golden := strings.TrimSuffix(y, ".yaml") + ".golden"
		got := err.Error() + "\n"
		if *update {
			if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (go test -update writes it)", err)
		}
		if got != string(want) {
			t.Errorf("errors differ from %s (go test -update rewrites it)\ngot:\n%swant:\n%s", golden, got, want)
		}
	}
}
