package codegen

import "github.com/mgmtgen/mgmtgen/internal/schema"

// Hand-built models, standing in for parsed schema files until the parser is
// merged. Each mirrors a YAML schema a user could write.

const (
	defMaxLen   = 16 << 20
	defMaxItems = 65536
)

// builder assembles a model with the parser's resolution rules: effective
// limits filled in, references resolved by name.
type builder struct {
	f       *schema.File
	structs map[string]*schema.Struct
	enums   map[string]*schema.Enum
	msgs    map[string]*schema.Message
}

func newBuilder(path, pkg, doc string, min, max uint8) *builder {
	return &builder{
		f: &schema.File{Path: path, Version: 1, Package: pkg, Doc: doc,
			IDs: schema.IDRange{Min: min, Max: max}},
		structs: map[string]*schema.Struct{},
		enums:   map[string]*schema.Enum{},
		msgs:    map[string]*schema.Message{},
	}
}

func (b *builder) enum(name, doc string, base schema.Kind, vals ...*schema.EnumValue) *schema.Enum {
	e := &schema.Enum{Name: name, Doc: schema.Doc{Text: doc}, Base: base, Values: vals}
	b.enums[name] = e
	b.f.Enums = append(b.f.Enums, e)
	return e
}

// structDecl declares a struct first, so fields can refer to it (recursion
// through pointers, lists and maps).
func (b *builder) structDecl(name, doc string) *schema.Struct {
	s := &schema.Struct{Name: name, Doc: schema.Doc{Text: doc}}
	b.structs[name] = s
	b.f.Structs = append(b.f.Structs, s)
	return s
}

func (b *builder) field(s *schema.Struct, name, key, typ string, opts ...func(*schema.Field)) *schema.Field {
	fl := &schema.Field{Name: name, Key: key, Type: b.typ(typ)}
	if containers, _ := shape(fl.Type); containers {
		fl.MaxItems = defMaxItems
	}
	// As the parser does: max_len covers strings, bytes, map keys and
	// string enums anywhere in the type.
	for t := fl.Type; t != nil; t = t.Elem {
		stringEnum := t.Kind == schema.KindEnum && t.Enum.Base == schema.KindString
		if t.Kind == schema.KindString || t.Kind == schema.KindBytes || t.Kind == schema.KindMap || stringEnum {
			fl.MaxLen = defMaxLen
		}
	}
	for _, o := range opts {
		o(fl)
	}
	s.Fields = append(s.Fields, fl)
	return fl
}

func omit(fl *schema.Field)                               { fl.OmitEmpty = true }
func doc(t string) func(*schema.Field)                    { return func(fl *schema.Field) { fl.Doc.Text = t } }
func deprecated(t string) func(*schema.Field)             { return func(fl *schema.Field) { fl.Deprecated = t } }
func maxLen(n uint32) func(*schema.Field)                 { return func(fl *schema.Field) { fl.MaxLen = n } }
func maxItems(n uint32) func(*schema.Field)               { return func(fl *schema.Field) { fl.MaxItems = n } }
func ev(name string, v int64) *schema.EnumValue           { return &schema.EnumValue{Name: name, Int: v} }
func evs(name, v string) *schema.EnumValue                { return &schema.EnumValue{Name: name, Str: v} }
func evd(v *schema.EnumValue, d string) *schema.EnumValue { v.Doc.Text = d; return v }

var kinds = map[string]schema.Kind{
	"bool": schema.KindBool, "string": schema.KindString, "bytes": schema.KindBytes,
	"int": schema.KindInt, "int8": schema.KindInt8, "int16": schema.KindInt16,
	"int32": schema.KindInt32, "int64": schema.KindInt64, "uint": schema.KindUint,
	"uint8": schema.KindUint8, "uint16": schema.KindUint16, "uint32": schema.KindUint32,
	"uint64": schema.KindUint64, "float32": schema.KindFloat32, "float64": schema.KindFloat64,
	"time": schema.KindTime, "duration": schema.KindDuration,
}

func (b *builder) typ(s string) *schema.Type {
	switch {
	case len(s) > 2 && s[:2] == "[]":
		return &schema.Type{Kind: schema.KindList, Elem: b.typ(s[2:])}
	case len(s) > 11 && s[:11] == "map[string]":
		return &schema.Type{Kind: schema.KindMap, Elem: b.typ(s[11:])}
	case s[0] == '*':
		return &schema.Type{Kind: schema.KindPointer, Elem: b.typ(s[1:])}
	}
	if k, ok := kinds[s]; ok {
		return &schema.Type{Kind: k}
	}
	if e, ok := b.enums[s]; ok {
		return &schema.Type{Kind: schema.KindEnum, Enum: e}
	}
	if st, ok := b.structs[s]; ok {
		return &schema.Type{Kind: schema.KindStruct, Struct: st}
	}
	panic("unknown type " + s)
}

func (b *builder) msg(name string, id uint8, payload, doc string) *schema.Message {
	m := &schema.Message{Name: name, ID: id, Doc: schema.Doc{Text: doc}}
	if payload != "" {
		m.Payload = b.structs[payload]
	}
	b.msgs[name] = m
	b.f.Messages = append(b.f.Messages, m)
	return m
}

func (b *builder) fieldOf(msg, field string) *schema.Field {
	for _, fl := range b.msgs[msg].Payload.Fields {
		if fl.Name == field {
			return fl
		}
	}
	panic("no field " + field)
}

func (b *builder) unary(name, req, resp, errField, doc string) {
	c := &schema.Call{Name: name, Doc: schema.Doc{Text: doc}, Request: b.msgs[req], Response: b.msgs[resp]}
	if errField != "" {
		c.ErrorField = b.fieldOf(resp, errField)
	}
	b.f.Calls = append(b.f.Calls, c)
}

func (b *builder) stream(name, req, stream, lastWhen, doc string) {
	c := &schema.Call{Name: name, Doc: schema.Doc{Text: doc}, Request: b.msgs[req], Stream: b.msgs[stream]}
	if lastWhen != "" {
		c.LastWhen = b.fieldOf(stream, lastWhen)
	}
	b.f.Calls = append(b.f.Calls, c)
}
