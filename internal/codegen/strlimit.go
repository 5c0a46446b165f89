package codegen

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

// msgp's limit= tag bounds list, map and bin headers but not strings. To
// enforce Field.MaxLen on strings, every string read of msgp's decoders is
// attributed to its field and, when the field has a MaxLen, routed through a
// helper that checks the length before the string is allocated.
//
// msgp follows every read with msgp.WrapError(err, "Field", ..., "Inner"),
// the path of Go field names from the receiver (indices and map keys are
// variables, inlined structs add their field names), so the field is found
// from that call and the receiver type of the enclosing method.

var (
	decoderFunc = regexp.MustCompile(`^func \(z \*(\w+)\) (DecodeMsg|UnmarshalMsg)\(`)
	wrapError   = regexp.MustCompile(`msgp\.WrapError\(err((?:, [^)]*)?)\)`)
)

// stringReads are msgp's string reads and the helpers that replace them; %d
// is the limit. Entries with arena set apply only to, and are the only ones
// applied to, the UnmarshalMsg of arena structs (arena.go), whose helper
// useArenas appends.
var stringReads = []struct {
	from, to, helper string
	arena            bool
}{
	{"msgp.ReadStringBytes(bts)", "readStringBytes(bts, %d)", helperStringBytes, false},
	{"msgp.ReadStringBytes(bts)", "a.readString(bts, %d)", "", true},
	{"dc.ReadString()", "readString(dc, %d)", helperString, false},
}

// limitStrings rewrites the string reads of body's decoders for fields with
// a MaxLen and appends the helpers used. In the UnmarshalMsg of the structs
// in arenas, strings are read from the arena instead.
func limitStrings(body []byte, f *schema.File, arenas map[string]bool) []byte {
	structs := make(map[string]*schema.Struct, len(f.Structs))
	for _, s := range f.Structs {
		structs[s.Name] = s
	}
	lines := strings.Split(string(body), "\n")
	used := make([]bool, len(stringReads))
	var recv *schema.Struct
	arena := false
	for i, line := range lines {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "func ") {
			recv = nil
			if m := decoderFunc.FindStringSubmatch(trimmed); m != nil {
				recv = structs[m[1]]
				arena = m[2] == "UnmarshalMsg" && arenas[m[1]]
			}
			continue
		}
		if recv == nil {
			continue
		}
		for k, r := range stringReads {
			if r.arena != arena || !strings.Contains(line, r.from) {
				continue
			}
			fl := fieldAt(recv, wrapPath(lines[i+1:min(i+4, len(lines))]))
			if fl == nil || fl.MaxLen == 0 {
				continue
			}
			lines[i] = strings.Replace(line, r.from, fmt.Sprintf(r.to, fl.MaxLen), 1)
			used[k] = true
		}
	}
	out := strings.Join(lines, "\n")
	for k, r := range stringReads {
		if used[k] && r.helper != "" {
			out += "\n" + r.helper
		}
	}
	return []byte(out)
}

// wrapPath returns the field names of the first msgp.WrapError call in
// lines, nil if there is none.
func wrapPath(lines []string) []string {
	for _, l := range lines {
		m := wrapError.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		var path []string
		for _, arg := range strings.Split(m[1], ", ") {
			if name, err := strconv.Unquote(arg); err == nil {
				path = append(path, name)
			}
		}
		return path
	}
	return nil
}

// fieldAt follows a path of Go field names from s through struct-typed
// fields (by value, in lists, maps or pointers) and returns the last field,
// nil if the path does not name one.
func fieldAt(s *schema.Struct, path []string) *schema.Field {
	var fl *schema.Field
	for _, name := range path {
		if s == nil {
			return nil
		}
		fl = nil
		for _, c := range s.Fields {
			if c.Name == name {
				fl = c
			}
		}
		if fl == nil {
			return nil
		}
		s = innerStruct(fl.Type)
	}
	return fl
}

// innerStruct is the struct t holds, through lists, maps and pointers.
func innerStruct(t *schema.Type) *schema.Struct {
	for ; t != nil; t = t.Elem {
		if t.Kind == schema.KindStruct {
			return t.Struct
		}
	}
	return nil
}

const helperStringBytes = `// readStringBytes is msgp.ReadStringBytes refusing, before allocating, a
// string longer than n bytes.
func readStringBytes(b []byte, n uint64) (string, []byte, error) {
	v, o, err := msgp.ReadStringZC(b)
	if err != nil {
		return "", b, err
	}
	if uint64(len(v)) > n {
		return "", b, msgp.ErrLimitExceeded
	}
	return string(v), o, nil
}
`

const helperString = `// readString is (*msgp.Reader).ReadString refusing, before allocating, a
// string longer than n bytes.
func readString(dc *msgp.Reader, n uint64) (string, error) {
	limit := dc.GetMaxStringLength()
	dc.SetMaxStringLength(min(limit, n))
	defer dc.SetMaxStringLength(limit)
	return dc.ReadString()
}
`
