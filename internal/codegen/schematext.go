package codegen

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dave/jennifer/jen"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

// emitSchemaText declares the Schema constant: the schema file's text,
// verbatim, which the generated server hands to runtime/server (Table.Schema)
// to answer Describe, so that a tool can call any server from what the server
// says it speaks. It is a raw string literal when the text allows one (no
// backquote, carriage return or invalid UTF-8), so a schema change reads as
// the same change in the generated diff.
func emitSchemaText(jf *jen.File, f *schema.File, n *names) {
	jf.Comment(comment(n.Schema + " is the text of " + schema.SourcePath(f.Path) + ", the schema this package was " +
		"generated from, verbatim. A " + n.Server + " answers Describe with it and its SHA-256 on connections " +
		"that negotiated the extensions; mgmtgen describe and mgmtgen call read it from there."))
	jf.Const().Id(n.Schema).Op("=").Op(stringLiteral(string(f.Source)))
}

// stringLiteral is s as a Go string literal: raw when it can be.
func stringLiteral(s string) string {
	if utf8.ValidString(s) && !strings.ContainsAny(s, "`\r\x00") {
		return "`" + s + "`"
	}
	return strconv.Quote(s)
}
