package schema

import (
	"os"
	"path/filepath"
)

// SourcePath is the schema path generated files (Go code and the Markdown
// reference) name in their "source:" line and package doc: relative to the
// root of the module that holds the schema (the nearest directory above it
// with a go.mod), slash-separated, so that it reads the same whichever
// directory mgmtgen ran in
// ("schema/mgmt.yaml", never "../../schema/mgmt.yaml"). A schema outside any
// module is named by its path as given when that is relative, else by its
// base name: a generated file never carries an absolute path.
func SourcePath(path string) string {
	abs, err := filepath.Abs(path)
	if err == nil {
		for dir := filepath.Dir(abs); ; dir = filepath.Dir(dir) {
			if fi, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && fi.Mode().IsRegular() {
				if rel, err := filepath.Rel(dir, abs); err == nil {
					return filepath.ToSlash(rel)
				}
				break
			}
			if dir == filepath.Dir(dir) {
				break
			}
		}
	}
	if filepath.IsAbs(path) {
		return filepath.Base(path)
	}
	return filepath.ToSlash(filepath.Clean(path))
}
