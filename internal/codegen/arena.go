package codegen

import (
	"regexp"
	"strings"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

// msgp's UnmarshalMsg allocates one string per string it decodes: a
// ListResponse of 1000 entries costs 3000 allocations for its strings alone.
// For the structs chosen by arenaStructs, the strings of a whole message are
// instead substrings of ONE copy of its encoded form (a "string arena"):
//
//	// UnmarshalMsg implements msgp.Unmarshaler
//	func (z *T) UnmarshalMsg(bts []byte) ([]byte, error) {
//		return z.unmarshalMsgArena(bts, &msgpArena{msg: bts})
//	}
//
//	// unmarshalMsgArena is UnmarshalMsg taking its strings from a.
//	func (z *T) unmarshalMsgArena(bts []byte, a *msgpArena) (o []byte, err error) {
//		... msgp's body, with a.readString(bts, MaxLen) for every string
//		... and x.unmarshalMsgArena(bts, a) for nested arena structs
//	}
//
// msgpArena.readString checks MaxLen before anything is allocated, as
// readStringBytes does (strlimit.go), and finds a string's offset in the
// message from capacities: a view that msgp.ReadStringZC returns from inside
// bts starts at cap(msg)-cap(view), since bts only moves forward. The copy is
// made lazily, at the first non-empty string, and spans from that string to
// the end of the message (found with msgp.Skip), so a message without
// non-empty strings allocates nothing for them and decoding never copies
// bytes beyond the message. The arena lives on the caller's stack.
//
// Trade-off: a retained string keeps the whole copy alive (every string of
// the message and the encoded bytes between them), not just its own bytes;
// copy a string (strings.Clone) to keep it alone for long. Structs holding
// bytes keep msgp's per-string decoding: the arena would copy the bytes a
// second time. DecodeMsg (msgp.Reader) is unchanged.

// arenaStructs returns the names of the structs whose UnmarshalMsg uses a
// string arena: those whose value, through nested structs, lists, maps and
// pointers, holds no bytes and at least one string (a string, a string enum
// or a map key).
func arenaStructs(f *schema.File) map[string]bool {
	set := make(map[string]bool)
	for _, s := range f.Structs {
		var c contents
		c.addStruct(s, make(map[*schema.Struct]bool))
		if c.strings && !c.bytes {
			set[s.Name] = true
		}
	}
	return set
}

// contents records which kinds of variable-length data a value holds.
type contents struct{ strings, bytes bool }

func (c *contents) addStruct(s *schema.Struct, seen map[*schema.Struct]bool) {
	if seen[s] {
		return
	}
	seen[s] = true
	for _, fl := range s.Fields {
		c.addType(fl.Type, seen)
	}
}

func (c *contents) addType(t *schema.Type, seen map[*schema.Struct]bool) {
	for ; t != nil; t = t.Elem {
		switch t.Kind {
		case schema.KindString, schema.KindMap: // maps have string keys
			c.strings = true
		case schema.KindBytes:
			c.bytes = true
		case schema.KindEnum:
			c.strings = c.strings || t.Enum.Base == schema.KindString
		case schema.KindStruct:
			c.addStruct(t.Struct, seen)
		}
	}
}

var (
	unmarshalFunc = regexp.MustCompile(`^func \(z \*(\w+)\) UnmarshalMsg\(bts \[\]byte\) \(o \[\]byte, err error\) \{$`)
	nestedCall    = ".UnmarshalMsg(bts)"
)

// useArenas turns the UnmarshalMsg methods of the arena structs in body into
// wrappers of an unexported method taking the arena, makes nested arena
// structs decode into the same arena and appends msgpArena. The string reads
// were already routed to the arena by limitStrings.
func useArenas(body []byte, f *schema.File, arenas map[string]bool) []byte {
	if len(arenas) == 0 {
		return body
	}
	structs := make(map[string]*schema.Struct, len(f.Structs))
	for _, s := range f.Structs {
		structs[s.Name] = s
	}
	lines := strings.Split(string(body), "\n")
	out := make([]string, 0, len(lines)+8*len(arenas))
	var recv *schema.Struct
	for i, line := range lines {
		if strings.HasPrefix(line, "func ") {
			recv = nil
			if m := unmarshalFunc.FindStringSubmatch(line); m != nil && arenas[m[1]] {
				recv = structs[m[1]]
				out = append(out, arenaWrapper(m[1])...)
				continue
			}
		}
		if recv != nil && strings.Contains(line, nestedCall) {
			fl := fieldAt(recv, wrapPath(lines[i+1:min(i+4, len(lines))]))
			if fl != nil && innerStruct(fl.Type) != nil && arenas[innerStruct(fl.Type).Name] {
				line = strings.Replace(line, nestedCall, ".unmarshalMsgArena(bts, a)", 1)
			}
		}
		out = append(out, line)
	}
	return []byte(strings.Join(out, "\n") + "\n" + helperArena)
}

// arenaWrapper is the UnmarshalMsg of arena struct name and the head of the
// method that takes msgp's body.
func arenaWrapper(name string) []string {
	return []string{
		"func (z *" + name + ") UnmarshalMsg(bts []byte) ([]byte, error) {",
		"\treturn z.unmarshalMsgArena(bts, &msgpArena{msg: bts})",
		"}",
		"",
		"// unmarshalMsgArena is UnmarshalMsg taking its strings from a.",
		"func (z *" + name + ") unmarshalMsgArena(bts []byte, a *msgpArena) (o []byte, err error) {",
	}
}

const helperArena = `// msgpArena hands out the strings of one message as substrings of a single
// copy of its encoded form: decoding a message costs one string allocation
// however many strings it holds. The copy is made at the first non-empty
// string and spans from it to the end of the message, so a retained string
// keeps all of that alive.
type msgpArena struct {
	msg  []byte // the encoded message, from its first byte
	copy string // msg[off:end], once a non-empty string was read
	off  int
}

// readString is msgp.ReadStringBytes refusing, before allocating, a string
// longer than n bytes, and returning a substring of a's copy. b is a
// suffix of a.msg.
func (a *msgpArena) readString(b []byte, n uint64) (string, []byte, error) {
	v, o, err := msgp.ReadStringZC(b)
	if err != nil {
		return "", b, err
	}
	if uint64(len(v)) > n {
		return "", b, msgp.ErrLimitExceeded
	}
	if len(v) == 0 {
		return "", o, nil
	}
	start := cap(a.msg) - cap(v) // v is a view into a.msg
	if start < 0 || start+len(v) > len(a.msg) {
		return string(v), o, nil // not a view into a.msg: cannot happen
	}
	if a.copy == "" {
		end := len(a.msg)
		if rest, err := msgp.Skip(a.msg); err == nil {
			end = max(end-len(rest), start+len(v))
		}
		a.off, a.copy = start, string(a.msg[start:end])
	}
	i := start - a.off
	if i < 0 || i+len(v) > len(a.copy) {
		return string(v), o, nil // before the first string: cannot happen
	}
	return a.copy[i : i+len(v)], o, nil
}
`
