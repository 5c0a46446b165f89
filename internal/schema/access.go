package schema

import (
	"regexp"
	"strings"
)

// Access levels: the schema's access: section names the levels calls can
// need, and each call names one with access:. A server maps its peers'
// credentials to the levels they hold (server.Options.Access); a call
// needing a level its peer lacks is refused with PermissionDenied.
//
//	access:
//	  read:  {doc: Look at processes and their output.}
//	  admin: {doc: Change what runs.}
//	calls:
//	  List: {request: ListRequest, response: ListResponse, access: read}

// accessName is what an access level may be called.
var accessName = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

// accessLevels resolves the access: section.
func (rs *resolver) accessLevels(raw []*rawAccess) {
	for _, a := range raw {
		if !accessName.MatchString(a.Name.V) {
			rs.r.errorf(a.Name.Pos, "access level %q: want a lowercase name (a-z, then a-z, 0-9, '_' or '-')", a.Name.V)
			continue
		}
		rs.f.Access = append(rs.f.Access, &AccessLevel{Name: a.Name.V, Doc: a.doc(), Pos: a.Name.Pos})
	}
}

// callAccess resolves a call's access: the level must be declared, and once
// any is, every call names one.
func (rs *resolver) callAccess(c *Call, raw *rawCall) {
	names := make([]string, len(rs.f.Access))
	for i, a := range rs.f.Access {
		names[i] = a.Name
	}
	switch {
	case raw.Access.Set && len(names) == 0:
		rs.r.errorf(raw.Access.Pos, "call %q needs access %q, but the schema declares no access levels (add an access: section)", c.Name, raw.Access.V)
	case raw.Access.Set:
		for _, a := range rs.f.Access {
			if a.Name == raw.Access.V {
				c.Access = a
				return
			}
		}
		rs.r.errorf(raw.Access.Pos, "call %q needs unknown access level %q (declared: %s)%s", c.Name, raw.Access.V,
			strings.Join(names, ", "), rs.hint(raw.Access.V, names))
	case len(names) > 0 && !raw.Bad:
		rs.r.errorf(raw.Name.Pos, "call %q names no access level: once the schema declares access levels, every call needs one (%s)",
			c.Name, strings.Join(names, ", "))
	}
}
