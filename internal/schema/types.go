package schema

import (
	"fmt"
	"strings"
)

// builtins maps the schema's basic type names to their kinds.
var builtins = map[string]Kind{
	"bool": KindBool, "string": KindString, "bytes": KindBytes,
	"int": KindInt, "int8": KindInt8, "int16": KindInt16, "int32": KindInt32, "int64": KindInt64,
	"uint": KindUint, "uint8": KindUint8, "uint16": KindUint16, "uint32": KindUint32, "uint64": KindUint64,
	"float32": KindFloat32, "float64": KindFloat64,
	"time": KindTime, "duration": KindDuration,
}

// kindNames are the schema spellings of the kinds, for messages and String.
var kindNames = map[Kind]string{
	KindBool: "bool", KindString: "string", KindBytes: "bytes",
	KindInt: "int", KindInt8: "int8", KindInt16: "int16", KindInt32: "int32", KindInt64: "int64",
	KindUint: "uint", KindUint8: "uint8", KindUint16: "uint16", KindUint32: "uint32", KindUint64: "uint64",
	KindFloat32: "float32", KindFloat64: "float64",
	KindTime: "time", KindDuration: "duration",
	KindStruct: "struct", KindEnum: "enum", KindList: "list", KindMap: "map", KindPointer: "pointer",
}

// hints point users who write Go spellings at the schema's own.
var hints = map[string]string{
	"byte":          `(use "bytes" for []byte)`,
	"time.Time":     `(use "time")`,
	"time.Duration": `(use "duration")`,
	"float":         `(use "float32" or "float64")`,
}

// typeParser resolves type expressions against the declared structs and enums.
type typeParser struct {
	structs map[string]*Struct
	enums   map[string]*Enum
}

// parse resolves expr, e.g. "map[string][]*Foo". On failure it returns a
// message (without position) saying what is wrong.
func (p *typeParser) parse(expr string) (*Type, string) {
	if strings.ContainsAny(expr, " \t\r\n") {
		return nil, fmt.Sprintf("invalid type %q: types contain no blanks", expr)
	}
	t, msg := p.parseExpr(expr)
	if t == nil && (expr == "" || !strings.HasPrefix(msg, "unknown type") || strings.ContainsAny(expr, "[*")) {
		msg = fmt.Sprintf("invalid type %q: %s", expr, msg)
	}
	return t, msg
}

func (p *typeParser) parseExpr(expr string) (*Type, string) {
	switch {
	case expr == "":
		return nil, "missing type name"
	case strings.HasPrefix(expr, "[]"):
		return p.composite(KindList, expr[2:])
	case strings.HasPrefix(expr, "map["):
		key, rest, ok := strings.Cut(expr[len("map["):], "]")
		if !ok {
			return nil, `missing "]" after the map key type`
		}
		if key != "string" {
			return nil, fmt.Sprintf("map keys must be string, not %q", key)
		}
		return p.composite(KindMap, rest)
	case strings.HasPrefix(expr, "*"):
		t, msg := p.composite(KindPointer, expr[1:])
		if t == nil {
			return nil, msg
		}
		switch t.Elem.Kind {
		case KindPointer:
			return nil, "pointers to pointers are not supported"
		case KindList, KindMap:
			return nil, fmt.Sprintf("pointers to %ss are not supported (a nil %s already means absent)", t.Elem.Kind, t.Elem.Kind)
		case KindBytes:
			return nil, "pointers to bytes are not supported (nil bytes already mean absent)"
		}
		return t, ""
	}
	return p.named(expr)
}

// composite resolves the element type elem of a list, map or pointer.
func (p *typeParser) composite(kind Kind, elem string) (*Type, string) {
	t, msg := p.parseExpr(elem)
	if t == nil {
		return nil, msg
	}
	return &Type{Kind: kind, Elem: t}, ""
}

// named resolves a basic type, struct or enum name.
func (p *typeParser) named(name string) (*Type, string) {
	if k, ok := builtins[name]; ok {
		return &Type{Kind: k}, ""
	}
	if s, ok := p.structs[name]; ok {
		return &Type{Kind: KindStruct, Struct: s}, ""
	}
	if e, ok := p.enums[name]; ok {
		return &Type{Kind: KindEnum, Enum: e}, ""
	}
	msg := fmt.Sprintf("unknown type %q", name)
	if h, ok := hints[name]; ok {
		return nil, msg + " " + h
	}
	if h, best := suggest(name, p.candidates()); best != "" {
		return nil, msg + h
	}
	return nil, msg
}

// candidates lists every type name, for "did you mean" hints.
func (p *typeParser) candidates() []string {
	var names []string
	for n := range builtins {
		names = append(names, n)
	}
	for n := range p.structs {
		names = append(names, n)
	}
	for n := range p.enums {
		names = append(names, n)
	}
	return sortedStrings(names)
}

// String returns the kind's schema spelling, e.g. "uint8" or "list".
func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// String returns t in schema syntax, e.g. "map[string][]*Foo".
func (t *Type) String() string {
	if t == nil {
		return "<nil>"
	}
	switch t.Kind {
	case KindStruct:
		return t.Struct.Name
	case KindEnum:
		return t.Enum.Name
	case KindList:
		return "[]" + t.Elem.String()
	case KindMap:
		return "map[string]" + t.Elem.String()
	case KindPointer:
		return "*" + t.Elem.String()
	}
	return t.Kind.String()
}

// IsInteger reports whether k is one of the integer kinds.
func (k Kind) IsInteger() bool {
	return k >= KindInt && k <= KindUint64
}

// hasString reports whether values of t hold strings or bytes that a decoder
// must bound: strings, bytes, string enums, map keys, and elements of lists,
// maps and pointers. Structs bound their own fields.
func hasString(t *Type) bool {
	switch t.Kind {
	case KindString, KindBytes:
		return true
	case KindEnum:
		return t.Enum.Base == KindString
	case KindMap:
		return true
	case KindList, KindPointer:
		return hasString(t.Elem)
	}
	return false
}

// hasItems reports whether t is or holds (through lists, maps and pointers)
// a list or a map.
func hasItems(t *Type) bool {
	switch t.Kind {
	case KindList, KindMap:
		return true
	case KindPointer:
		return hasItems(t.Elem)
	}
	return false
}
