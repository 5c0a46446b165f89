package schema

import (
	"fmt"
	"strings"
)

// This file resolves messages, calls and the error convention: ids, payload
// structs, and the fields calls name (last_when, error_field, errors.field).

func (rs *resolver) message(raw *rawMessage) {
	m := &Message{Name: raw.Name.V, Doc: raw.doc(), Pos: raw.Name.Pos}
	rs.f.Messages = append(rs.f.Messages, m)
	rs.msgs[m.Name] = m
	checkGoName(rs.r, raw.Name, "message name")
	if raw.ID.Set && rs.checkByte(raw.ID, "message id") {
		m.ID = uint8(raw.ID.V)
		rs.messageID(m, raw.ID.Pos)
	}
	if raw.Payload.Set {
		m.Payload = rs.payload(raw.Payload)
		rs.noBody[m] = m.Payload == nil
	}
}

// messageID checks m.ID against the declared range and the earlier messages.
func (rs *resolver) messageID(m *Message, pos Pos) {
	if m.ID >= ReservedMin {
		rs.r.errorf(pos, "message id 0x%02x is in the runtime's reserved block 0x%02x..0xff", m.ID, ReservedMin)
	} else if rs.idsOK && (m.ID < rs.f.IDs.Min || m.ID > rs.f.IDs.Max) {
		rs.r.errorf(pos, "message id 0x%02x is outside the declared range 0x%02x..0x%02x", m.ID, rs.f.IDs.Min, rs.f.IDs.Max)
	}
	if prev, dup := rs.byID[m.ID]; dup {
		rs.r.errorf(pos, "duplicate message id 0x%02x (also used by %q at %s)", m.ID, prev.Name, prev.Pos)
		return
	}
	rs.byID[m.ID] = m
}

// payload resolves a message's payload struct.
func (rs *resolver) payload(name rawStr) *Struct {
	if s, ok := rs.types.structs[name.V]; ok {
		return s
	}
	if _, ok := rs.types.enums[name.V]; ok {
		rs.r.errorf(name.Pos, "payload %q is an enum, not a struct", name.V)
		return nil
	}
	rs.r.errorf(name.Pos, "unknown payload struct %q%s", name.V, rs.hint(name.V, structNames(rs.f.Structs)))
	return nil
}

// hint suggests the closest of names, or nothing when none is close.
func (rs *resolver) hint(s string, names []string) string {
	if len(names) == 0 {
		return ""
	}
	if h, best := suggest(s, names); best != "" {
		return h
	}
	return ""
}

func structNames(structs []*Struct) []string {
	var names []string
	for _, s := range structs {
		names = append(names, s.Name)
	}
	return names
}

// lookupMessage resolves a message reference made by key (e.g. "request").
func (rs *resolver) lookupMessage(name rawStr, key string) *Message {
	if m, ok := rs.msgs[name.V]; ok {
		return m
	}
	var names []string
	for _, m := range rs.f.Messages {
		names = append(names, m.Name)
	}
	hint := rs.hint(name.V, names)
	if c := rs.rawCallNamed(name.V); c != nil && hint == "" {
		hint = fmt.Sprintf(" (%q is a call; a call names its messages, e.g. request: %s)", name.V, c.Request.V)
	}
	rs.r.errorf(name.Pos, "%s: unknown message %q%s", key, name.V, hint)
	return nil
}

// rawCallNamed returns the call declared as name with a request, or nil: a
// call name given where a message belongs is a common slip.
func (rs *resolver) rawCallNamed(name string) *rawCall {
	for _, c := range rs.calls {
		if c.Name.V == name && c.Request.Set {
			return c
		}
	}
	return nil
}

func (rs *resolver) call(raw *rawCall) {
	c := &Call{Name: raw.Name.V, Doc: raw.doc(), Pos: raw.Name.Pos}
	rs.f.Calls = append(rs.f.Calls, c)
	rs.rawCall[c] = raw
	rs.callName(raw.Name)
	if raw.Request.Set {
		c.Request = rs.lookupMessage(raw.Request, "request")
	}
	switch {
	case raw.Response.Set && raw.Stream.Set:
		rs.r.errorf(raw.Stream.Pos, "call %q has both a response and a stream (a call has exactly one)", c.Name)
	case raw.Response.Set:
		c.Response = rs.lookupMessage(raw.Response, "response")
	case raw.Stream.Set:
		c.Stream = rs.lookupMessage(raw.Stream, "stream")
	case !raw.Bad && raw.Response.Pos.Line == 0 && raw.Stream.Pos.Line == 0:
		rs.r.errorf(raw.Name.Pos, "call %q needs a response or a stream", c.Name)
	}
	if raw.LastWhen.Set {
		if raw.Response.Set {
			rs.r.errorf(raw.LastWhen.Pos, "last_when is only allowed on stream calls, %q is unary", c.Name)
		} else if c.Stream != nil {
			c.LastWhen = rs.payloadField(c.Stream, raw.LastWhen, "last_when", KindBool)
		}
	}
	if raw.ErrorField.Set {
		if raw.Stream.Set {
			rs.r.errorf(raw.ErrorField.Pos, "error_field is only allowed on unary calls, %q is a stream", c.Name)
		} else if c.Response != nil {
			c.ErrorField = rs.payloadField(c.Response, raw.ErrorField, "error_field", KindString)
		}
	}
	rs.callAccess(c, raw)
}

// callName checks a call's name.
func (rs *resolver) callName(name rawStr) {
	checkGoName(rs.r, name, "call name")
}

// payloadField resolves a field of m's payload named by key (last_when,
// error_field, errors.field), which must be of kind want.
func (rs *resolver) payloadField(m *Message, name rawStr, key string, want Kind) *Field {
	if m.Payload == nil {
		rs.r.errorf(name.Pos, "%s %q: message %q has no payload", key, name.V, m.Name)
		return nil
	}
	var f *Field
	for _, x := range m.Payload.Fields {
		if x.Name == name.V {
			f = x
			break
		}
	}
	switch {
	case f == nil:
		rs.r.errorf(name.Pos, "%s %q is not a field of %q (the payload of message %q)%s",
			key, name.V, m.Payload.Name, m.Name, fieldHint(m.Payload, name.V, want))
		return nil
	case f.Type == nil:
		return nil // its type is wrong, and reported
	case f.Type.Kind != want:
		rs.r.errorf(name.Pos, "%s %q must be a %s field, %s.%s is %s%s",
			key, name.V, want, m.Payload.Name, f.Name, f.Type, fieldHint(m.Payload, "", want))
		return nil
	}
	return f
}

// fieldHint names the fields of s of kind want that a reference could mean:
// the closest to name when one is close, else all of them.
func fieldHint(s *Struct, name string, want Kind) string {
	var cands []string
	for _, f := range s.Fields {
		if f.Type != nil && f.Type.Kind == want {
			cands = append(cands, f.Name)
		}
	}
	if len(cands) == 0 {
		return fmt.Sprintf("; %s has no %s field", s.Name, want)
	}
	if name != "" {
		if h, best := suggest(name, cands); best != "" {
			return h
		}
	}
	return fmt.Sprintf("; the %s fields of %s: %s", want, s.Name, strings.Join(cands, ", "))
}

func (rs *resolver) errorConv(raw *rawErrors) {
	rs.errSect = raw != nil
	if raw == nil || !raw.Message.Set {
		return
	}
	rs.errPos = raw.Message.Pos
	m := rs.lookupMessage(raw.Message, "errors.message")
	if m == nil || !raw.Field.Set {
		return
	}
	if f := rs.payloadField(m, raw.Field, "errors.field", KindString); f != nil {
		rs.f.Errors = &ErrorConv{Message: m, Field: f, Pos: raw.Message.Pos}
	}
}
