package schema

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"gopkg.in/yaml.v3"
)

// The keys each mapping of the schema language accepts, in documentation order.
var (
	fileKeys    = []string{"version", "package", "doc", "ids", "limits", "enums", "structs", "messages", "calls", "errors", "reserved", "access"}
	idsKeys     = []string{"min", "max"}
	limitKeys   = []string{"max_len", "max_items"}
	enumKeys    = []string{"doc", "deprecated", "type", "values"}
	valueKeys   = []string{"name", "value", "doc", "deprecated"}
	structKeys  = []string{"doc", "deprecated", "fields"}
	fieldKeys   = []string{"name", "key", "type", "doc", "deprecated", "omitempty", "max_len", "max_items"}
	messageKeys = []string{"id", "payload", "doc", "deprecated"}
	callKeys    = []string{"request", "response", "stream", "last_when", "error_field", "access", "doc", "deprecated"}
	accessKeys  = []string{"doc"}
	errorsKeys  = []string{"message", "field"}
)

// decode parses src as YAML and reads it into raw declarations. It returns
// nil when the YAML itself is unreadable; otherwise a rawFile holding every
// declaration it could read, with problems reported into r.
func decode(path string, src []byte, r *reporter) *rawFile {
	d := &decoder{path: path, r: r, hinted: map[hint]bool{}}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			r.errorf(Pos{File: path, Line: 1, Col: 1}, "empty schema")
		} else {
			d.yamlError(src, err)
		}
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.yamlError(src, err)
		return nil
	default:
		d.errorf(&extra, "a schema is a single yaml document, found a second one")
		return nil
	}
	if len(doc.Content) != 1 {
		r.errorf(Pos{File: path, Line: 1, Col: 1}, "empty schema")
		return nil
	}
	return d.file(doc.Content[0])
}

func (d *decoder) file(top *yaml.Node) *rawFile {
	f := &rawFile{Pos: d.pos(top)}
	ok := d.mapping(top, "schema", fileKeys, func(key string, _, v *yaml.Node) {
		switch key {
		case "version":
			f.Version = d.integer(v, key)
		case "package":
			f.Package = d.str(v, key)
		case "doc":
			f.Doc = d.str(v, key)
		case "ids":
			f.IDs = d.ids(v)
		case "limits":
			f.Limits = d.limits(v)
		case "enums":
			d.decls(v, key, func(name rawStr, v *yaml.Node) { f.Enums = append(f.Enums, d.enum(name, v)) })
		case "structs":
			d.decls(v, key, func(name rawStr, v *yaml.Node) { f.Structs = append(f.Structs, d.strct(name, v)) })
		case "messages":
			d.decls(v, key, func(name rawStr, v *yaml.Node) { f.Messages = append(f.Messages, d.message(name, v)) })
		case "calls":
			d.decls(v, key, func(name rawStr, v *yaml.Node) { f.Calls = append(f.Calls, d.call(name, v)) })
		case "errors":
			f.Errors = d.errorConv(v)
		case "reserved":
			f.Reserved = d.reserved(v)
		case "access":
			d.decls(v, key, func(name rawStr, v *yaml.Node) { f.Access = append(f.Access, d.access(name, v)) })
		}
	})
	if ok {
		d.need(top, "schema", "version", f.Version.Pos)
		d.need(top, "schema", "package", f.Package.Pos)
		if f.IDs == nil {
			d.errorf(top, "missing key %q in schema", "ids")
		}
	}
	return f
}

// decls reads a section mapping declaration names to declarations, in
// order. An empty section (a key with no value) declares nothing.
func (d *decoder) decls(n *yaml.Node, section string, fn func(name rawStr, v *yaml.Node)) {
	if isNull(n) {
		return
	}
	d.mapping(n, section, nil, func(key string, k, v *yaml.Node) {
		fn(rawStr{V: key, Pos: d.pos(k), Set: true}, v)
	})
}

// docKey reads the doc and deprecated keys shared by all declarations.
func (d *decoder) docKey(r *rawDoc, key string, v *yaml.Node) {
	switch key {
	case "doc":
		r.Doc = d.str(v, key)
	case "deprecated":
		r.Deprecated = d.str(v, key)
	}
}

func (d *decoder) ids(n *yaml.Node) *rawIDs {
	ids := &rawIDs{Pos: d.pos(n)}
	if d.mapping(n, "ids", idsKeys, func(key string, _, v *yaml.Node) {
		if key == "min" {
			ids.Min = d.integer(v, "ids.min")
		} else {
			ids.Max = d.integer(v, "ids.max")
		}
	}) {
		d.need(n, "ids", "min", ids.Min.Pos)
		d.need(n, "ids", "max", ids.Max.Pos)
	}
	return ids
}

func (d *decoder) limits(n *yaml.Node) *rawLimits {
	l := &rawLimits{Pos: d.pos(n)}
	d.mapping(n, "limits", limitKeys, func(key string, _, v *yaml.Node) {
		if key == "max_len" {
			l.MaxLen = d.integer(v, "limits.max_len")
		} else {
			l.MaxItems = d.integer(v, "limits.max_items")
		}
	})
	return l
}

func (d *decoder) enum(name rawStr, n *yaml.Node) *rawEnum {
	e := &rawEnum{Name: name}
	what := fmt.Sprintf("enum %q", name.V)
	if d.mapping(n, what, enumKeys, func(key string, _, v *yaml.Node) {
		switch key {
		case "type":
			e.Type = d.str(v, key)
		case "values":
			e.Values = d.enumValues(v)
			e.Bad = !isNull(v) && v.Kind != yaml.SequenceNode
		default:
			d.docKey(&e.rawDoc, key, v)
		}
	}) {
		d.need(n, what, "type", e.Type.Pos)
	} else {
		e.Bad = true
	}
	return e
}

func (d *decoder) enumValues(n *yaml.Node) []*rawEnumValue {
	if isNull(n) || !d.isKind(n, yaml.SequenceNode, "values must be a list") {
		return nil
	}
	var vals []*rawEnumValue
	for _, item := range n.Content {
		ev := &rawEnumValue{Pos: d.pos(item)}
		what := describeItem("enum value", item)
		if !d.mapping(item, what, valueKeys, func(key string, _, v *yaml.Node) {
			switch key {
			case "name":
				ev.Name = d.str(v, key)
			case "value":
				ev.Value = d.value(v)
			default:
				d.docKey(&ev.rawDoc, key, v)
			}
		}) {
			continue
		}
		d.need(item, what, "name", ev.Name.Pos)
		d.need(item, what, "value", ev.Value.Pos)
		vals = append(vals, ev)
	}
	return vals
}

// value reads an enum value: a string or an integer.
func (d *decoder) value(n *yaml.Node) rawValue {
	v := rawValue{Pos: d.pos(n)}
	if n.Kind == yaml.ScalarNode && n.Tag == tagStr {
		v.Set, v.IsStr, v.Str = true, true, n.Value
		return v
	}
	if n.Kind != yaml.ScalarNode || n.Tag != tagInt {
		d.errorf(n, "value must be a string or an integer, got %s", describe(n))
		return v
	}
	v.Int, v.Set = d.int64(n, "value")
	return v
}

// describeItem names a list item for messages by its name key, when it has one.
func describeItem(what string, item *yaml.Node) string {
	if item.Kind != yaml.MappingNode {
		return what
	}
	for i := 0; i+1 < len(item.Content); i += 2 {
		k, v := item.Content[i], item.Content[i+1]
		if k.Value == "name" && v.Kind == yaml.ScalarNode && v.Tag == tagStr {
			return fmt.Sprintf("%s %q", what, v.Value)
		}
	}
	return what
}

func (d *decoder) strct(name rawStr, n *yaml.Node) *rawStruct {
	s := &rawStruct{Name: name}
	if isNull(n) {
		return s // a struct with no fields
	}
	d.mapping(n, fmt.Sprintf("struct %q", name.V), structKeys, func(key string, _, v *yaml.Node) {
		if key == "fields" {
			s.Fields = d.fields(v)
		} else {
			d.docKey(&s.rawDoc, key, v)
		}
	})
	return s
}

func (d *decoder) fields(n *yaml.Node) []*rawField {
	if isNull(n) || !d.isKind(n, yaml.SequenceNode, "fields must be a list") {
		return nil
	}
	var fields []*rawField
	for _, item := range n.Content {
		if f := d.field(item); f != nil {
			fields = append(fields, f)
		}
	}
	return fields
}

func (d *decoder) field(n *yaml.Node) *rawField {
	f := &rawField{Pos: d.pos(n)}
	what := describeItem("field", n)
	if !d.mapping(n, what, fieldKeys, func(key string, _, v *yaml.Node) {
		switch key {
		case "name":
			f.Name = d.str(v, key)
		case "key":
			f.Key = d.str(v, key)
		case "type":
			f.Type = d.str(v, key)
		case "omitempty":
			f.OmitEmpty = d.boolean(v, key)
		case "max_len":
			f.MaxLen = d.integer(v, key)
		case "max_items":
			f.MaxItems = d.integer(v, key)
		default:
			d.docKey(&f.rawDoc, key, v)
		}
	}) {
		return nil
	}
	d.need(n, what, "name", f.Name.Pos)
	d.need(n, what, "key", f.Key.Pos)
	d.need(n, what, "type", f.Type.Pos)
	return f
}

func (d *decoder) message(name rawStr, n *yaml.Node) *rawMessage {
	m := &rawMessage{Name: name}
	what := fmt.Sprintf("message %q", name.V)
	if d.mapping(n, what, messageKeys, func(key string, _, v *yaml.Node) {
		switch key {
		case "id":
			m.ID = d.integer(v, key)
		case "payload":
			m.Payload = d.str(v, key)
		default:
			d.docKey(&m.rawDoc, key, v)
		}
	}) {
		d.need(n, what, "id", m.ID.Pos)
	}
	return m
}

func (d *decoder) call(name rawStr, n *yaml.Node) *rawCall {
	c := &rawCall{Name: name}
	what := fmt.Sprintf("call %q", name.V)
	if d.mapping(n, what, callKeys, func(key string, _, v *yaml.Node) {
		switch key {
		case "request":
			c.Request = d.str(v, key)
		case "response":
			c.Response = d.str(v, key)
		case "stream":
			c.Stream = d.str(v, key)
		case "last_when":
			c.LastWhen = d.str(v, key)
		case "error_field":
			c.ErrorField = d.str(v, key)
		case "access":
			c.Access = d.str(v, key)
		default:
			d.docKey(&c.rawDoc, key, v)
		}
	}) {
		d.need(n, what, "request", c.Request.Pos)
		c.Bad = d.hinted[hint{n, "response"}] || d.hinted[hint{n, "stream"}]
	} else {
		c.Bad = true
	}
	return c
}

// access reads one access level: a name with an optional doc.
func (d *decoder) access(name rawStr, n *yaml.Node) *rawAccess {
	a := &rawAccess{Name: name}
	if !isNull(n) {
		d.mapping(n, fmt.Sprintf("access %q", name.V), accessKeys, func(key string, _, v *yaml.Node) {
			d.docKey(&a.rawDoc, key, v)
		})
	}
	return a
}

func (d *decoder) errorConv(n *yaml.Node) *rawErrors {
	e := &rawErrors{Pos: d.pos(n)}
	if d.mapping(n, "errors", errorsKeys, func(key string, _, v *yaml.Node) {
		if key == "message" {
			e.Message = d.str(v, "errors.message")
		} else {
			e.Field = d.str(v, "errors.field")
		}
	}) {
		d.need(n, "errors", "message", e.Message.Pos)
		d.need(n, "errors", "field", e.Field.Pos)
	}
	return e
}
