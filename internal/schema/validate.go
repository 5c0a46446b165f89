package schema

import "strings"

// This file holds the checks that need the whole resolved model: the roles
// messages play in calls, and structs that contain themselves by value.

// validate runs the whole-model checks on rs.f.
func (rs *resolver) validate() {
	rs.callRoles()
	rs.errorCarriers()
	rs.cycles()
}

// errorCarriers checks that every unary call can carry a handler error to a
// legacy peer, which knows no error frames: the call names an error_field,
// or the schema has an errors: section whose message is not the call's own
// response. (The client tells the error response from a success by its
// type, so a call that answers with errors.message must name the error
// field itself, or its errors would read as success.)
func (rs *resolver) errorCarriers() {
	if rs.f.Errors == nil && rs.errSect {
		return // the errors section is wrong, and reported
	}
	for _, c := range rs.f.Calls {
		if c.Response == nil || rs.rawCall[c].ErrorField.Set || rs.noBody[c.Response] {
			continue // a stream, a call with an error field (maybe wrong, and reported), or a wrong payload
		}
		switch e := rs.f.Errors; {
		case e == nil:
			rs.r.errorf(c.Pos, "call %q has no way to report an error to a legacy client: name a string field of its response %q in error_field, or add an errors: section",
				c.Name, c.Response.Name)
		case e.Message == c.Response:
			rs.r.errorf(c.Pos, "call %q answers with %q, the errors.message, so a legacy client would read its errors as success: add error_field: %s",
				c.Name, e.Message.Name, e.Field.Name)
		}
	}
}

// callRoles checks that each request message belongs to one call and is never
// also a response or stream frame: the server dispatches on the request type,
// and a client must tell answers from requests.
func (rs *resolver) callRoles() {
	type role struct {
		call *Call
		what string
	}
	answers := map[*Message]role{}
	for _, c := range rs.f.Calls {
		if c.Response != nil {
			answers[c.Response] = firstRole(answers, c.Response, role{c, "response"})
		}
		if c.Stream != nil {
			answers[c.Stream] = firstRole(answers, c.Stream, role{c, "stream"})
		}
	}
	requests := map[*Message]*Call{}
	for _, c := range rs.f.Calls {
		if c.Request == nil {
			continue
		}
		pos := rs.rawCall[c].Request.Pos
		if prev, dup := requests[c.Request]; dup {
			rs.r.errorf(pos, "message %q is already the request of call %q at %s", c.Request.Name, prev.Name, prev.Pos)
			continue
		}
		requests[c.Request] = c
		if a, ok := answers[c.Request]; ok {
			rs.r.errorf(pos, "message %q cannot be the request of call %q: it is the %s of call %q", c.Request.Name, c.Name, a.what, a.call.Name)
		}
	}
	if e := rs.f.Errors; e != nil {
		if c, ok := requests[e.Message]; ok {
			rs.r.errorf(rs.errPos, "errors.message %q cannot be the error response: it is the request of call %q", e.Message.Name, c.Name)
		}
	}
}

// firstRole keeps the first role recorded for m.
func firstRole[R any](roles map[*Message]R, m *Message, r R) R {
	if prev, ok := roles[m]; ok {
		return prev
	}
	return r
}

// link is one step of a by-value containment path: Owner.Field.
type link struct {
	owner *Struct
	field *Field
}

// cycles reports every struct that contains itself by value, directly or
// through other structs; such a type has infinite size in Go.
func (rs *resolver) cycles() {
	const (
		unseen = iota
		active
		done
	)
	state := map[*Struct]int{}
	var stack []link
	var visit func(s *Struct)
	visit = func(s *Struct) {
		state[s] = active
		for _, f := range s.Fields {
			if f.Type == nil || f.Type.Kind != KindStruct {
				continue
			}
			t := f.Type.Struct
			stack = append(stack, link{s, f})
			switch state[t] {
			case unseen:
				visit(t)
			case active:
				rs.reportCycle(t, stack)
			}
			stack = stack[:len(stack)-1]
		}
		state[s] = done
	}
	for _, s := range rs.f.Structs {
		if state[s] == unseen {
			visit(s)
		}
	}
}

// reportCycle reports the cycle at the end of stack that leads back to t.
func (rs *resolver) reportCycle(t *Struct, stack []link) {
	start := len(stack) - 1
	for start > 0 && stack[start].owner != t {
		start--
	}
	var steps []string
	for _, l := range stack[start:] {
		steps = append(steps, l.owner.Name+"."+l.field.Name)
	}
	last := stack[len(stack)-1].field
	rs.r.errorf(last.Pos, "struct %q contains itself by value (%s -> %s); use a pointer, list or map",
		t.Name, strings.Join(steps, " -> "), t.Name)
}
