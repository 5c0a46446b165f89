package codegen

import (
	"path/filepath"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

// testCase is a golden case under testdata/<name>/, generated from a schema
// file: the mgmt case from schema/mgmt.yaml itself, so its goldens are
// gen/mgmt's files.
type testCase struct {
	name   string
	schema string // the schema file, relative to this package
	path   string // File.Path as generated code names it ("" for schema)
}

var testCases = []testCase{
	{"mgmt", "../../schema/mgmt.yaml", ""}, // named as gen/mgmt/doc.go's go:generate line names it
	{"kvstore", "testdata/kvstore/schema.yaml", ""},
	{"every", "testdata/every/schema.yaml", ""},
	{"kvexample", "../../docs/example/kv.yaml", ""}, // msgp inlines Pair into Result and Change
}

// model loads the case's schema; a schema that does not load is a broken
// test case.
func (tc testCase) model() *schema.File {
	f, err := schema.Load(filepath.FromSlash(tc.schema))
	if err != nil {
		panic("test case " + tc.name + ": " + err.Error())
	}
	if tc.path != "" {
		f.Path = tc.path
	}
	return f
}

// caseModel is the model of the named case.
func caseModel(name string) *schema.File {
	for _, tc := range testCases {
		if tc.name == name {
			return tc.model()
		}
	}
	panic("no test case " + name)
}

// mgmtModel is schema/mgmt.yaml: the cliwrap management protocol (docs/wire.md).
func mgmtModel() *schema.File { return caseModel("mgmt") }

// kvModel is a key-value store's control protocol: string enum, maps of
// bytes, durations, pointers and a file-wide limit.
func kvModel() *schema.File { return caseModel("kvstore") }

// everyModel uses every type feature of the schema language.
func everyModel() *schema.File { return caseModel("every") }
