package schema

import (
	"go/token"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file holds the naming rules: which Go identifiers a schema may
// declare, and which names the generated code reserves for itself.

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

// reservedTypes are the package-level names every generated package declares.
var reservedTypes = []string{
	"Handler", "UnimplementedHandler", "Client", "Server", "ServerOptions",
	"NewServer", "Dial", "DialContext", "DialOptions", "ClientOptions",
	"ErrNotImplemented", "MessageName",
}

// reservedCalls are methods the generated Client already has (the untyped
// cliwrap API and the runtime connection's own methods): a call of that name
// would clash with them.
var reservedCalls = []string{"Call", "Close", "Conn", "Invoke", "OpenStream", "ReadFrame", "Stream"}

// reservedFields are the methods msgp generates on every payload struct: a
// field of that name would clash with them.
var reservedFields = []string{"DecodeMsg", "EncodeMsg", "MarshalMsg", "Msgsize", "UnmarshalMsg"}

// ReservedNames are the names the generated code keeps for itself, as the
// validator applies them; schema/README.md's "Naming rules" shows them and
// TestReservedNamesDocumented keeps the two equal.
type ReservedNames struct {
	Types        []string // package-level names every generated package declares
	Calls        []string // call names: methods the generated Client already has
	Fields       []string // field names: methods msgp generates on every struct
	MsgPrefix    string   // each message's constant is MsgPrefix + its name
	CallSuffixes []string // each call's generated types are its name + one of these
}

// Reserved returns the names the generated code reserves.
func Reserved() ReservedNames {
	return ReservedNames{
		Types:        slices.Clone(reservedTypes),
		Calls:        slices.Clone(reservedCalls),
		Fields:       slices.Clone(reservedFields),
		MsgPrefix:    msgPrefix,
		CallSuffixes: slices.Clone(callSuffixes),
	}
}

// msgPrefix and callSuffixes make the names generated per message and call.
const msgPrefix = "Msg"

var callSuffixes = []string{"Sender", "Stream"}

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
	what string // e.g. `struct "Foo"`, `constant "MsgFoo" generated for message "Foo"`
	pos  Pos    // zero for names reserved by the generator
}

// namespace detects clashes between package-level identifiers.
type namespace struct {
	r     *reporter
	names map[string]decl
}

func newNamespace(r *reporter) *namespace {
	ns := &namespace{r: r, names: make(map[string]decl)}
	for _, name := range reservedTypes {
		ns.names[name] = decl{what: "a name the generated code declares"}
	}
	return ns
}

// declare records name, declared by d; a clash with an earlier name is
// reported at d.pos, a clash with a reserved name too.
func (ns *namespace) declare(name string, d decl) {
	prev, dup := ns.names[name]
	if !dup {
		ns.names[name] = d
		return
	}
	if prev.pos.Line == 0 {
		ns.r.errorf(d.pos, "%s is reserved: %q is %s", d.what, name, prev.what)
		return
	}
	ns.r.errorf(d.pos, "%s collides with %s at %s", d.what, prev.what, prev.pos)
}
