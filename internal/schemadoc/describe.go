// Package schemadoc renders a schema model for people: the text and JSON of
// "mgmtgen describe" and the Markdown reference of "mgmtgen doc". Output is
// deterministic: schema order everywhere, no timestamps or absolute paths.
package schemadoc

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

// Protocol is a schema described as data: what "describe --json" prints.
// Every slice keeps schema order.
type Protocol struct {
	Package  string     `json:"package"`
	Source   string     `json:"source"`
	Doc      string     `json:"doc,omitempty"`
	IDs      IDRange    `json:"ids"`
	Limits   Limits     `json:"limits"`
	Errors   *ErrorConv `json:"errors,omitempty"`
	Calls    []Call     `json:"calls"`
	Messages []Message  `json:"messages"`
	Structs  []Struct   `json:"structs"`
	Enums    []Enum     `json:"enums"`
	Reserved *Reserved  `json:"reserved,omitempty"`
	Access   []Access   `json:"access,omitempty"`
}

// Access is one access level calls can need.
type Access struct {
	Name string `json:"name"`
	Doc  string `json:"doc,omitempty"`
}

// Reserved is what the schema retired: message ids and, per struct, keys.
type Reserved struct {
	IDs  []uint8       `json:"ids,omitempty"`
	Keys []ReservedKey `json:"keys,omitempty"`
}

// ReservedKey lists the retired keys of one struct.
type ReservedKey struct {
	Struct string   `json:"struct"`
	Keys   []string `json:"keys"`
}

// IDRange is the schema's message id range.
type IDRange struct {
	Min uint8 `json:"min"`
	Max uint8 `json:"max"`
}

// Limits are the schema-wide default limits (0: none declared).
type Limits struct {
	MaxLen   uint32 `json:"max_len"`
	MaxItems uint32 `json:"max_items"`
}

// ErrorConv is the response sent for unknown and malformed requests.
type ErrorConv struct {
	Message string `json:"message"`
	Field   string `json:"field"`
}

// Call is one call.
type Call struct {
	Name       string `json:"name"`
	Kind       string `json:"kind"` // "unary" or "stream"
	Doc        string `json:"doc,omitempty"`
	Deprecated string `json:"deprecated,omitempty"`
	Request    string `json:"request"`
	RequestID  uint8  `json:"request_id"`
	Response   string `json:"response,omitempty"`
	Stream     string `json:"stream,omitempty"`
	AnswerID   uint8  `json:"answer_id"`
	LastWhen   string `json:"last_when,omitempty"`
	ErrorField string `json:"error_field,omitempty"`
	Access     string `json:"access,omitempty"` // the access level it needs
}

// Message is one message id.
type Message struct {
	Name       string `json:"name"`
	ID         uint8  `json:"id"`
	Doc        string `json:"doc,omitempty"`
	Deprecated string `json:"deprecated,omitempty"`
	Payload    string `json:"payload,omitempty"`
}

// Struct is one struct with its fields.
type Struct struct {
	Name       string  `json:"name"`
	Doc        string  `json:"doc,omitempty"`
	Deprecated string  `json:"deprecated,omitempty"`
	Fields     []Field `json:"fields"`
}

// Field is one struct field; MaxLen and MaxItems are the effective limits.
type Field struct {
	Name       string `json:"name"`
	Key        string `json:"key"`
	Type       string `json:"type"`
	OmitEmpty  bool   `json:"omitempty,omitempty"`
	MaxLen     uint32 `json:"max_len,omitempty"`
	MaxItems   uint32 `json:"max_items,omitempty"`
	Doc        string `json:"doc,omitempty"`
	Deprecated string `json:"deprecated,omitempty"`
}

// Enum is one enum with its values.
type Enum struct {
	Name       string      `json:"name"`
	Type       string      `json:"type"`
	Doc        string      `json:"doc,omitempty"`
	Deprecated string      `json:"deprecated,omitempty"`
	Values     []EnumValue `json:"values"`
}

// EnumValue is one enum constant; Value is a string or an int64.
type EnumValue struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
	Doc   string `json:"doc,omitempty"`
}

// Describe returns f as data.
func Describe(f *schema.File) *Protocol {
	p := &Protocol{
		Package: f.Package, Source: f.Path, Doc: f.Doc,
		IDs:      IDRange{f.IDs.Min, f.IDs.Max},
		Limits:   Limits{f.Limits.MaxLen, f.Limits.MaxItems},
		Calls:    []Call{},
		Messages: []Message{},
		Structs:  []Struct{},
		Enums:    []Enum{},
	}
	if f.Errors != nil {
		p.Errors = &ErrorConv{Message: f.Errors.Message.Name, Field: f.Errors.Field.Name}
	}
	for _, a := range f.Access {
		p.Access = append(p.Access, Access{Name: a.Name, Doc: a.Text})
	}
	for _, c := range f.Calls {
		p.Calls = append(p.Calls, describeCall(c))
	}
	for _, m := range f.Messages {
		dm := Message{Name: m.Name, ID: m.ID, Doc: m.Text, Deprecated: m.Deprecated}
		if m.Payload != nil {
			dm.Payload = m.Payload.Name
		}
		p.Messages = append(p.Messages, dm)
	}
	for _, s := range f.Structs {
		p.Structs = append(p.Structs, describeStruct(s))
	}
	for _, e := range f.Enums {
		p.Enums = append(p.Enums, describeEnum(e))
	}
	if r := f.Reserved; len(r.IDs) > 0 || len(r.Keys) > 0 {
		p.Reserved = &Reserved{IDs: r.IDs}
		for _, rk := range r.Keys {
			p.Reserved.Keys = append(p.Reserved.Keys, ReservedKey{Struct: rk.Struct, Keys: rk.Keys})
		}
	}
	return p
}

func describeCall(c *schema.Call) Call {
	dc := Call{
		Name: c.Name, Kind: "unary", Doc: c.Text, Deprecated: c.Deprecated,
		Request: c.Request.Name, RequestID: c.Request.ID, AnswerID: c.Answer().ID,
	}
	if c.IsStream() {
		dc.Kind, dc.Stream = "stream", c.Stream.Name
	} else {
		dc.Response = c.Response.Name
	}
	if c.LastWhen != nil {
		dc.LastWhen = c.LastWhen.Name
	}
	if c.ErrorField != nil {
		dc.ErrorField = c.ErrorField.Name
	}
	if c.Access != nil {
		dc.Access = c.Access.Name
	}
	return dc
}

func describeStruct(s *schema.Struct) Struct {
	ds := Struct{Name: s.Name, Doc: s.Text, Deprecated: s.Deprecated, Fields: []Field{}}
	for _, fl := range s.Fields {
		ds.Fields = append(ds.Fields, Field{
			Name: fl.Name, Key: fl.Key, Type: fl.Type.String(), OmitEmpty: fl.OmitEmpty,
			MaxLen: fl.MaxLen, MaxItems: fl.MaxItems, Doc: fl.Text, Deprecated: fl.Deprecated,
		})
	}
	return ds
}

func describeEnum(e *schema.Enum) Enum {
	de := Enum{Name: e.Name, Type: e.Base.String(), Doc: e.Text, Deprecated: e.Deprecated, Values: []EnumValue{}}
	for _, v := range e.Values {
		ev := EnumValue{Name: v.Name, Doc: v.Text}
		if e.Base == schema.KindString {
			ev.Value = v.Str
		} else {
			ev.Value = v.Int
		}
		de.Values = append(de.Values, ev)
	}
	return de
}

// Lookup returns the part of p named name (a call, message, struct or enum),
// or an error listing the names it could have meant.
func (p *Protocol) Lookup(name string) (any, error) {
	for _, c := range p.Calls {
		if c.Name == name {
			return c, nil
		}
	}
	for _, m := range p.Messages {
		if m.Name == name {
			return m, nil
		}
	}
	for _, s := range p.Structs {
		if s.Name == name {
			return s, nil
		}
	}
	for _, e := range p.Enums {
		if e.Name == name {
			return e, nil
		}
	}
	msg := fmt.Sprintf("%q is not a call, message, struct or enum of %s", name, p.Source)
	if cand := p.closest(name); cand != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", cand)
	}
	return nil, fmt.Errorf("%s", msg)
}

// closest returns a name of p equal to name ignoring case, or "".
func (p *Protocol) closest(name string) string {
	var names []string
	for _, c := range p.Calls {
		names = append(names, c.Name)
	}
	for _, m := range p.Messages {
		names = append(names, m.Name)
	}
	for _, s := range p.Structs {
		names = append(names, s.Name)
	}
	for _, e := range p.Enums {
		names = append(names, e.Name)
	}
	sort.Strings(names)
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return n
		}
	}
	return ""
}
