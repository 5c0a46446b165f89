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
// the end of the message, which msgpEnd (msgp.Skip without recursion or
// validation, three times faster) finds; when at most 256 bytes of input
// are left, they are copied without looking for the end. So a message
// without non-empty strings allocates nothing for them, and decoding copies
// at most 256 bytes beyond the message: no quadratic copying when a struct
// holding bytes decodes a list of arena structs, or when a caller decodes
// messages one after the other from one buffer. The arena lives on the
// caller's stack.
//
// Trade-offs: a retained string keeps the whole copy alive (every string of
// the message and the encoded bytes between them), not just its own bytes;
// strings.Clone a string to keep it alone for long. MaxLen bounds each string
// before it is returned, but an arena made for an earlier string spans the
// rest of the message, an oversized string included: one copy of an input
// that is in memory already. Structs holding bytes keep msgp's per-string
// decoding: the arena would copy the bytes a second time. DecodeMsg
// (msgp.Reader) is unchanged.

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
// string and spans from it to the end of the message (or of the input, when
// at most 256 bytes are left), so a retained string keeps all of that alive.
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
		if end-start > 256 { // else copying the rest costs less than finding the end
			end = max(msgpEnd(a.msg), start+len(v))
		}
		a.off, a.copy = start, string(a.msg[start:end])
	}
	i := start - a.off
	if i < 0 || i+len(v) > len(a.copy) {
		return string(v), o, nil // before the first string: cannot happen
	}
	return a.copy[i : i+len(v)], o, nil
}

// msgpEnd returns the length of the msgpack object b starts with, len(b) if
// b does not hold a whole one. It is msgp.Skip without recursion, checking
// nothing but lengths.
func msgpEnd(b []byte) int {
	i := 0
	for pending := uint64(1); pending > 0; pending-- {
		if i >= len(b) || pending > uint64(len(b)-i) {
			return len(b) // every object takes a byte at least
		}
		c := b[i]
		if t := msgpTokens[c]; t.size != 0 {
			i += int(t.size)
			pending += uint64(t.kids)
			continue
		}
		fixed, count, items, ok := msgpLead(c)
		if !ok || len(b)-i-1 < count {
			return len(b)
		}
		var n uint64
		for _, d := range b[i+1 : i+1+count] {
			n = n<<8 | uint64(d)
		}
		switch {
		case items > 0:
			pending += items * n
		case n > uint64(len(b)):
			return len(b)
		default:
			fixed += int(n)
		}
		i += 1 + fixed
	}
	return min(i, len(b))
}

// msgpTokens gives, for every lead byte that tells the size of its token,
// that size (else 0: see msgpLead) and the number of objects the token opens
// (fixmap, fixarray).
var msgpTokens = func() (t [256]struct{ size, kids uint8 }) {
	for c := range 256 {
		k := &t[c]
		switch {
		case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3: // fixint, nil, bool
			k.size = 1
		case c <= 0x8f: // fixmap
			k.size, k.kids = 1, uint8(2*(c&0x0f))
		case c <= 0x9f: // fixarray
			k.size, k.kids = 1, uint8(c&0x0f)
		case c <= 0xbf: // fixstr
			k.size = uint8(1 + c&0x1f)
		case c >= 0xd4 && c <= 0xd8: // fixext: type and 1 to 16 bytes
			k.size = uint8(2 + 1<<(c-0xd4))
		default:
			if fixed, count, _, ok := msgpLead(byte(c)); ok && count == 0 {
				k.size = uint8(1 + fixed)
			}
		}
	}
	return t
}()

// msgpLead describes the lead bytes 0xc1-0xdf other than nil, bool and
// fixext: the bytes after the lead byte and, of them, the size of a
// big-endian count of bytes (items 0) or of objects (items per count).
func msgpLead(c byte) (fixed, count int, items uint64, ok bool) {
	switch c {
	case 0xcc, 0xd0: // uint8, int8
		return 1, 0, 0, true
	case 0xcd, 0xd1: // uint16, int16
		return 2, 0, 0, true
	case 0xca, 0xce, 0xd2: // float32, uint32, int32
		return 4, 0, 0, true
	case 0xcb, 0xcf, 0xd3: // float64, uint64, int64
		return 8, 0, 0, true
	case 0xc4, 0xd9: // bin8, str8
		return 1, 1, 0, true
	case 0xc5, 0xda: // bin16, str16
		return 2, 2, 0, true
	case 0xc6, 0xdb: // bin32, str32
		return 4, 4, 0, true
	case 0xc7, 0xc8, 0xc9: // ext8, ext16, ext32: count, type
		n := 1 << (c - 0xc7)
		return n + 1, n, 0, true
	case 0xdc, 0xdd: // array16, array32
		return 2 << (c - 0xdc), 2 << (c - 0xdc), 1, true
	case 0xde, 0xdf: // map16, map32
		return 2 << (c - 0xde), 2 << (c - 0xde), 2, true
	}
	return 0, 0, 0, false // 0xc1: never used
}
`
