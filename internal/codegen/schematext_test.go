package codegen

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

// The generated Schema constant is the schema's text, byte for byte: as a
// raw string when the text allows one, quoted otherwise (a backquote, a
// carriage return).
func TestSchemaConstIsTheSource(t *testing.T) {
	base := "version: 1\npackage: p\ndoc: Package p is a `demo`.\nids: {min: 1, max: 2}\n"
	for name, src := range map[string]string{
		"plain":     "# a comment\nversion: 1\npackage: p\nids: {min: 1, max: 2}\n",
		"backquote": base,
		"crlf":      strings.ReplaceAll(base, "\n", "\r\n"),
		"unicode":   "version: 1\npackage: p\ndoc: Package p is über.\nids: {min: 1, max: 2}\n",
	} {
		f, err := schema.Parse("p.yaml", []byte(src))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		files, err := Generate(f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		lit := schemaLiteral(t, files)
		got, err := strconv.Unquote(lit.Value)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got != src {
			t.Errorf("%s: Schema = %q, want %q", name, got, src)
		}
		if raw := strings.HasPrefix(lit.Value, "`"); raw != (name == "plain" || name == "unicode") {
			t.Errorf("%s: literal %.20s... raw = %v", name, lit.Value, raw)
		}
	}
}

// schemaLiteral finds the Schema constant in the generated p.go.
func schemaLiteral(t *testing.T, files []OutFile) *ast.BasicLit {
	t.Helper()
	for _, out := range files {
		if out.Name != "p.go" {
			continue
		}
		file, err := parser.ParseFile(token.NewFileSet(), out.Name, out.Content, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				if vs.Names[0].Name == "Schema" {
					return vs.Values[0].(*ast.BasicLit)
				}
			}
		}
	}
	t.Fatal("no Schema constant in p.go")
	return nil
}
