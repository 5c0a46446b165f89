package breaking

import (
	"fmt"
	"sort"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

// Finding is one incompatible change, at its position in the new schema
// (in the old one for what was removed).
type Finding struct {
	Pos  schema.Pos
	Rule string
	Msg  string
}

func (f Finding) String() string { return fmt.Sprintf("%s: %s: %s", f.Pos, f.Rule, f.Msg) }

// Compare returns every change from old to new that breaks at level lvl
// (Source includes Wire), sorted by file and position.
func Compare(old, new *schema.File, lvl Level) []Finding {
	c := &comparer{old: old, new: new, seen: map[[2]*schema.Struct]bool{}, dedup: map[Finding]bool{}}
	c.messages()
	c.calls()
	c.enums()
	c.errorsConv()
	c.reservations()
	c.unreached()
	var out []Finding
	for _, f := range c.found {
		if level(f.Rule) <= lvl {
			out = append(out, f)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Pos, out[j].Pos
		if a.File != b.File {
			return a.File == new.Path // the new file first
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		return out[i].Rule < out[j].Rule
	})
	return out
}

type comparer struct {
	old, new *schema.File
	seen     map[[2]*schema.Struct]bool // struct pairs compared
	reached  map[*schema.Struct]bool    // old structs compared with a new one
	dedup    map[Finding]bool
	found    []Finding
}

func (c *comparer) add(pos schema.Pos, rule, format string, args ...any) {
	f := Finding{Pos: pos, Rule: rule, Msg: fmt.Sprintf(format, args...)}
	if !c.dedup[f] {
		c.dedup[f] = true
		c.found = append(c.found, f)
	}
}

// messages matches messages by id, then compares their payloads.
func (c *comparer) messages() {
	for _, om := range c.old.Messages {
		nm := c.new.MessageByID(om.ID)
		moved := c.new.Message(om.Name)
		switch {
		case moved != nil && moved.ID != om.ID:
			c.add(moved.Pos, "MESSAGE_ID_CHANGED", "message %s changed id from 0x%02x to 0x%02x; old peers send and expect 0x%02x",
				om.Name, om.ID, moved.ID, om.ID)
			c.payloads(om, moved)
			if nm != nil {
				c.add(nm.Pos, "MESSAGE_ID_REUSED", "id 0x%02x was message %s and is now %s", om.ID, om.Name, nm.Name)
			}
			continue
		case nm == nil && c.new.Reserved.HasID(om.ID):
			continue // retired
		case nm == nil:
			c.add(om.Pos, "MESSAGE_REMOVED", "message %s (0x%02x) was removed; list 0x%02x in reserved.ids to retire it", om.Name, om.ID, om.ID)
			continue
		case nm.Name != om.Name:
			c.add(nm.Pos, "MESSAGE_RENAMED", "message 0x%02x was renamed from %s to %s (constant Msg%s)", om.ID, om.Name, nm.Name, om.Name)
		}
		c.payloads(om, nm)
	}
	for _, nm := range c.new.Messages {
		if c.old.Reserved.HasID(nm.ID) {
			c.add(nm.Pos, "MESSAGE_ID_REUSED", "message %s uses id 0x%02x, reserved in the old schema", nm.Name, nm.ID)
		}
	}
}

func (c *comparer) payloads(om, nm *schema.Message) {
	switch {
	case om.Payload == nil && nm.Payload == nil:
	case om.Payload == nil:
		c.add(nm.Pos, "PAYLOAD_CHANGED", "message %s gained a payload (%s)", nm.Name, nm.Payload.Name)
	case nm.Payload == nil:
		c.add(nm.Pos, "PAYLOAD_CHANGED", "message %s lost its payload (%s)", nm.Name, om.Payload.Name)
	default:
		c.structs(om.Payload, nm.Payload, nm.Pos)
	}
}

// structs compares two structs carried by the same message or field, at
// pos (where the new one is used), once per pair.
func (c *comparer) structs(os, ns *schema.Struct, pos schema.Pos) {
	if c.reached == nil {
		c.reached = map[*schema.Struct]bool{}
	}
	c.reached[os] = true
	pair := [2]*schema.Struct{os, ns}
	if c.seen[pair] {
		return
	}
	c.seen[pair] = true
	if os.Name != ns.Name {
		c.add(pos, "STRUCT_RENAMED", "struct %s is now %s", os.Name, ns.Name)
	}
	for _, of := range os.Fields {
		nf := fieldByKey(ns, of.Key)
		if nf == nil {
			if byName := ns.Field(of.Name); byName != nil {
				c.add(byName.Pos, "FIELD_KEY_CHANGED", "field %s.%s changed key from %q to %q; old peers use %q",
					ns.Name, of.Name, of.Key, byName.Key, of.Key)
				c.fieldTypes(of, byName, ns)
			} else if !c.new.Reserved.HasKey(ns.Name, of.Key) {
				c.add(of.Pos, "FIELD_REMOVED", "field %s.%s (key %q) was removed; list %q under reserved.keys.%s to retire it",
					os.Name, of.Name, of.Key, of.Key, ns.Name)
			}
			continue
		}
		if nf.Name != of.Name {
			c.add(nf.Pos, "FIELD_RENAMED", "field %s key %q was renamed from %s to %s", ns.Name, of.Key, of.Name, nf.Name)
		}
		c.fieldTypes(of, nf, ns)
	}
	for _, nf := range ns.Fields {
		if c.old.Reserved.HasKey(os.Name, nf.Key) && fieldByKey(os, nf.Key) == nil {
			c.add(nf.Pos, "FIELD_KEY_REUSED", "field %s.%s uses key %q, reserved in the old schema", ns.Name, nf.Name, nf.Key)
		}
	}
}

func fieldByKey(s *schema.Struct, key string) *schema.Field {
	for _, f := range s.Fields {
		if f.Key == key {
			return f
		}
	}
	return nil
}

// fieldTypes compares the types and limits of a field kept by key.
func (c *comparer) fieldTypes(of, nf *schema.Field, ns *schema.Struct) {
	where := ns.Name + "." + nf.Name
	c.types(of.Type, nf.Type, where, nf.Pos)
	if nf.MaxLen > 0 && nf.MaxLen < of.MaxLen {
		c.add(nf.Pos, "LIMIT_TIGHTENED", "field %s: max_len %d is below the old %d; old peers may send more", where, nf.MaxLen, of.MaxLen)
	}
	if nf.MaxItems > 0 && nf.MaxItems < of.MaxItems {
		c.add(nf.Pos, "LIMIT_TIGHTENED", "field %s: max_items %d is below the old %d; old peers may send more", where, nf.MaxItems, of.MaxItems)
	}
}

// types compares the type of a field kept by key.
func (c *comparer) types(ot, nt *schema.Type, where string, pos schema.Pos) {
	ol, nl := ot.Kind == schema.KindList, nt.Kind == schema.KindList
	switch {
	case ol != nl:
		c.add(pos, "FIELD_LIST_CHANGED", "field %s changed from %s to %s", where, ot, nt)
		return
	case ol || ot.Kind == schema.KindMap && nt.Kind == schema.KindMap || ot.Kind == schema.KindPointer && nt.Kind == schema.KindPointer:
		c.types(ot.Elem, nt.Elem, where, pos)
		return
	case ot.Kind == schema.KindStruct && nt.Kind == schema.KindStruct:
		c.structs(ot.Struct, nt.Struct, pos)
		return
	case ot.Kind == schema.KindEnum && nt.Kind == schema.KindEnum && ot.Enum.Name == nt.Enum.Name:
		return // the same enum: enums() compares it
	}
	ow, nw := wireKind(ot), wireKind(nt)
	if ow != nw {
		c.add(pos, "FIELD_TYPE_CHANGED", "field %s changed type from %s to %s", where, ot, nt)
		return
	}
	if ot.String() != nt.String() {
		if ot.Kind == schema.KindEnum && nt.Kind == schema.KindEnum {
			return // a renamed enum: ENUM_REMOVED reports the old name if it is gone
		}
		c.add(pos, "FIELD_GO_TYPE_CHANGED", "field %s changed Go type from %s to %s", where, ot, nt)
	}
}

// wireKind is what the wire sees of a scalar type: int and int64 (uint and
// uint64) are the same, an enum is its base type.
func wireKind(t *schema.Type) schema.Kind {
	switch t.Kind {
	case schema.KindEnum:
		return wireKind(&schema.Type{Kind: t.Enum.Base})
	case schema.KindInt:
		return schema.KindInt64
	case schema.KindUint:
		return schema.KindUint64
	}
	return t.Kind
}

// calls matches calls by name.
func (c *comparer) calls() {
	for _, oc := range c.old.Calls {
		nc := c.new.Call(oc.Name)
		if nc == nil {
			if other := c.callByRequest(oc.Request.ID); other != nil {
				c.add(other.Pos, "CALL_RENAMED", "call %s was renamed to %s (its Handler and Client methods too)", oc.Name, other.Name)
			} else {
				c.add(oc.Pos, "CALL_REMOVED", "call %s (request 0x%02x) was removed; servers no longer answer it", oc.Name, oc.Request.ID)
			}
			continue
		}
		c.call(oc, nc)
	}
}

func (c *comparer) callByRequest(id uint8) *schema.Call {
	for _, nc := range c.new.Calls {
		if nc.Request.ID == id && c.old.Call(nc.Name) == nil {
			return nc
		}
	}
	return nil
}

func (c *comparer) call(oc, nc *schema.Call) {
	if oc.IsStream() != nc.IsStream() {
		c.add(nc.Pos, "CALL_KIND_CHANGED", "call %s changed from %s to %s", nc.Name, kind(oc), kind(nc))
		return
	}
	if oc.Request.ID != nc.Request.ID {
		c.add(nc.Pos, "CALL_REQUEST_CHANGED", "call %s now sends %s (0x%02x), not %s (0x%02x)", nc.Name,
			nc.Request.Name, nc.Request.ID, oc.Request.Name, oc.Request.ID)
	}
	if oa, na := oc.Answer(), nc.Answer(); oa.ID != na.ID {
		c.add(nc.Pos, "CALL_RESPONSE_CHANGED", "call %s is now answered by %s (0x%02x), not %s (0x%02x)", nc.Name,
			na.Name, na.ID, oa.Name, oa.ID)
	}
	if fieldKey(oc.LastWhen) != fieldKey(nc.LastWhen) {
		c.add(nc.Pos, "LAST_WHEN_CHANGED", "call %s: last_when changed from %s to %s; old peers find the stream's end elsewhere",
			nc.Name, fieldName(oc.LastWhen), fieldName(nc.LastWhen))
	}
	if fieldKey(oc.ErrorField) != fieldKey(nc.ErrorField) {
		c.add(nc.Pos, "ERROR_FIELD_CHANGED", "call %s: error_field changed from %s to %s; old peers look for errors elsewhere",
			nc.Name, fieldName(oc.ErrorField), fieldName(nc.ErrorField))
	}
}

func kind(c *schema.Call) string {
	if c.IsStream() {
		return "stream"
	}
	return "unary"
}

// fieldKey identifies a field on the wire: by key ("" for none).
func fieldKey(f *schema.Field) string {
	if f == nil {
		return ""
	}
	return f.Key
}

func fieldName(f *schema.Field) string {
	if f == nil {
		return "none"
	}
	return fmt.Sprintf("%s (key %q)", f.Name, f.Key)
}

// enums matches enums by name and their values by value.
func (c *comparer) enums() {
	for _, oe := range c.old.Enums {
		ne := c.new.Enum(oe.Name)
		if ne == nil {
			c.add(oe.Pos, "ENUM_REMOVED", "enum %s was removed", oe.Name)
			continue
		}
		if oe.Base != ne.Base {
			c.add(ne.Pos, "ENUM_TYPE_CHANGED", "enum %s changed type from %s to %s", ne.Name, oe.Base, ne.Base)
			continue
		}
		for _, ov := range oe.Values {
			nv := enumByValue(ne, ov)
			byName := enumByName(ne, ov.Name)
			switch {
			case nv == nil && byName != nil:
				c.add(byName.Pos, "ENUM_VALUE_CHANGED", "enum constant %s changed value from %s to %s", ov.Name, valueText(oe, ov), valueText(ne, byName))
			case nv == nil:
				c.add(ov.Pos, "ENUM_VALUE_REMOVED", "enum %s lost the value %s (%s); old peers still send it", oe.Name, valueText(oe, ov), ov.Name)
			case nv.Name != ov.Name:
				c.add(nv.Pos, "ENUM_CONSTANT_RENAMED", "enum %s value %s was renamed from %s to %s", ne.Name, valueText(ne, nv), ov.Name, nv.Name)
			}
		}
	}
}

func enumByValue(e *schema.Enum, v *schema.EnumValue) *schema.EnumValue {
	for _, x := range e.Values {
		if x.Str == v.Str && x.Int == v.Int {
			return x
		}
	}
	return nil
}

func enumByName(e *schema.Enum, name string) *schema.EnumValue {
	for _, x := range e.Values {
		if x.Name == name {
			return x
		}
	}
	return nil
}

func valueText(e *schema.Enum, v *schema.EnumValue) string {
	if e.Base == schema.KindString {
		return fmt.Sprintf("%q", v.Str)
	}
	return fmt.Sprint(v.Int)
}

// errorsConv compares the error responses.
func (c *comparer) errorsConv() {
	oe, ne := c.old.Errors, c.new.Errors
	desc := func(e *schema.ErrorConv) string {
		if e == nil {
			return "none"
		}
		return fmt.Sprintf("%s (0x%02x) field %q", e.Message.Name, e.Message.ID, e.Field.Key)
	}
	if desc(oe) == desc(ne) {
		return
	}
	var pos schema.Pos
	if ne != nil {
		pos = ne.Pos
	} else {
		pos = oe.Pos // removed: where the old schema declared it
	}
	c.add(pos, "ERRORS_CHANGED", "the error response changed from %s to %s", desc(oe), desc(ne))
}

// reservations reports what the old schema reserved and the new one does not.
func (c *comparer) reservations() {
	for i, id := range c.old.Reserved.IDs {
		if !c.new.Reserved.HasID(id) && c.new.MessageByID(id) == nil {
			c.add(c.old.Reserved.IDPos[i], "RESERVATION_REMOVED", "id 0x%02x is no longer in reserved.ids", id)
		}
	}
	for _, rk := range c.old.Reserved.Keys {
		for i, k := range rk.Keys {
			if c.new.Reserved.HasKey(rk.Struct, k) {
				continue
			}
			if s := c.new.Struct(rk.Struct); s != nil && fieldByKey(s, k) != nil {
				continue // FIELD_KEY_REUSED reports it
			}
			c.add(rk.KeyPos[i], "RESERVATION_REMOVED", "key %q of %s is no longer in reserved.keys", k, rk.Struct)
		}
	}
}

// unreached reports old structs that no message or field led to and that
// are gone by name (helpers the API exported).
func (c *comparer) unreached() {
	for _, os := range c.old.Structs {
		if !c.reached[os] && c.new.Struct(os.Name) == nil {
			c.add(os.Pos, "STRUCT_REMOVED", "struct %s was removed", os.Name)
		}
	}
}
