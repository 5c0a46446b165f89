// Package schema reads mgmtgen schema files: YAML in, a validated model out.
//
// The pipeline has three stages, each in files of its own:
//
//   - decode (decode.go, yamlnode.go): YAML nodes to raw declarations, keeping
//     the line and column of every value. Strict: unknown keys and values of
//     the wrong YAML type are errors.
//   - resolve (resolve.go, messages.go, types.go, names.go): names checked,
//     type and message references resolved, limits applied.
//   - validate (validate.go): checks over the whole model, such as structs
//     that contain themselves and messages used both as requests and answers.
//
// Every problem found is reported, not just the first: Parse returns an
// ErrorList sorted by position, each entry printed as "file:line:col: msg".
// The schema language itself is documented in schema/README.md.
package schema

import (
	"bytes"
	"fmt"
	"os"
)

// Load reads and parses the schema file at path.
func Load(path string) (*File, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	return Parse(path, src)
}

// Parse parses and validates the schema src, read from path. path is used
// as given in File.Path and in every position. On any problem Parse returns
// a nil File and an ErrorList holding all of them.
func Parse(path string, src []byte) (*File, error) {
	r := &reporter{}
	raw := decode(path, src, r)
	if raw == nil {
		return nil, r.errs.Err()
	}
	rs := newResolver(path, r)
	rs.resolve(raw)
	rs.validate()
	if err := r.errs.Err(); err != nil {
		return nil, err
	}
	rs.f.Source = bytes.Clone(src)
	return rs.f, nil
}
