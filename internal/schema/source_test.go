package schema

import (
	"os"
	"path/filepath"
	"testing"
)

// The source line names the schema relative to its module root, whatever
// the working directory and however the path was given; outside a module,
// never by an absolute path.
func TestSourcePath(t *testing.T) {
	here, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	mod := filepath.Join(root, "mod")
	for _, d := range []string{filepath.Join(mod, "schema"), filepath.Join(mod, "gen", "kv"), filepath.Join(root, "loose")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(mod, "go.mod"), []byte("module example.com/m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(filepath.Join(mod, "gen", "kv"))
	for _, tc := range []struct{ path, want string }{
		{"../../schema/kv.yaml", "schema/kv.yaml"},
		{filepath.Join(mod, "schema", "kv.yaml"), "schema/kv.yaml"},
		{"../../kv.yaml", "kv.yaml"},
		{filepath.Join(root, "loose", "kv.yaml"), "kv.yaml"},
		{"../../../loose/kv.yaml", "../../../loose/kv.yaml"},
	} {
		if got := SourcePath(tc.path); got != tc.want {
			t.Errorf("SourcePath(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
	// This repository: gen/mgmt's header, whichever directory runs mgmtgen.
	t.Chdir(filepath.Join(here, "..", ".."))
	if got := SourcePath("schema/mgmt.yaml"); got != "schema/mgmt.yaml" {
		t.Errorf("from the module root: %q", got)
	}
}
