package schema

import (
	"go/token"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file holds the naming rules: which Go identifiers a schema may
// declare. The names generated code declares for itself (Handler, MsgX,
// XSender, the methods msgp adds ...) are internal/codegen's business: its
// names.go derives them and reports a schema name that collides with one, at
// the schema's position.

// predeclared are Go's predeclared identifiers (universe scope).
var predeclared = map[string]bool{
	"any": true, "bool": true, "byte": true, "comparable": true, "complex64": true,
	"complex128": true, "error": true, "float32": true, "float64": true, "int": true,
	"int8": true, "int16": true, "int32": true, "int64": true, "rune": true,
	"string": true, "uint": true, "uint8": true, "uint16": true, "uint32": true,
	"uint64": true, "uintptr": true, "true": true, "false": true, "iota": true,
	"nil": true, "append": true, "cap": true, "clear": true, "close": true,
	"complex": true, "copy": true, "delete": true, "imag": true, "len": true,
	"make": true, "max": true, "min": true, "new": true, "panic": true,
	"print": true, "println": true, "real": true, "recover": true,
}

// checkGoName reports whether name may be declared as an exported Go
// identifier, and why not otherwise. what describes the name, e.g.
// "struct name".
func checkGoName(r *reporter, s rawStr, what string) bool {
	msg := goNameProblem(s.V)
	if msg == "" {
		return true
	}
	r.errorf(s.Pos, "%s %q %s", what, s.V, msg)
	return false
}

// goNameProblem explains why name is not a valid exported Go identifier, or
// returns "" when it is one.
func goNameProblem(name string) string {
	switch {
	case name == "":
		return "is empty"
	case !token.IsIdentifier(name) && !token.IsKeyword(name):
		return "is not a valid Go identifier"
	case token.IsKeyword(name):
		return "is a Go keyword"
	case predeclared[name]:
		return "is a predeclared Go identifier"
	case !token.IsExported(name):
		return "is not exported (must start with an upper-case letter)"
	}
	return ""
}

// packageName matches what we accept as the generated package's name.
var packageName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// packageProblem explains why name is not a usable Go package name.
func packageProblem(name string) string {
	switch {
	case !packageName.MatchString(name):
		return "is not a valid Go package name (lower-case letters, digits and underscores, starting with a letter)"
	case token.IsKeyword(name):
		return "is a Go keyword"
	case name == "main":
		return "cannot be main (the generated package is imported)"
	}
	return ""
}

// keyProblem explains why key cannot be a msgpack key in a struct tag.
func keyProblem(key string) string {
	switch {
	case key == "":
		return "is empty"
	case key == "-":
		return `cannot be "-" (msgp skips such fields)`
	case !utf8.ValidString(key):
		return "is not valid UTF-8"
	case strings.ContainsAny(key, ",\"`\\"):
		return "cannot contain commas, quotes or backslashes"
	case strings.IndexFunc(key, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0:
		return "cannot contain spaces or control characters"
	}
	return ""
}

// decl is one package-level Go identifier the generated code will declare.
type decl struct {
	what string // e.g. `struct "Foo"`, `enum value "A" of enum "E"`
	pos  Pos
}

// namespace detects clashes between package-level identifiers.
type namespace struct {
	r     *reporter
	names map[string]decl
}

func newNamespace(r *reporter) *namespace {
	return &namespace{r: r, names: make(map[string]decl)}
}

// declare records name, declared by d; a clash with an earlier name is
// reported at d.pos.
func (ns *namespace) declare(name string, d decl) {
	prev, dup := ns.names[name]
	if !dup {
		ns.names[name] = d
		return
	}
	ns.r.errorf(d.pos, "%s collides with %s at %s", d.what, prev.what, prev.pos)
}
