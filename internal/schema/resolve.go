package schema

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// Built-in limits, used when neither the field nor the file sets one.
const (
	DefaultMaxLen          = ipc.MaxPayloadSize // 16 MiB, the largest frame payload
	DefaultMaxItems uint32 = 65536
	// MaxLimit is the largest max_len or max_items a schema may set: nothing
	// larger fits in one frame.
	MaxLimit = ipc.MaxPayloadSize
)

// resolver builds the model from raw declarations: it checks names, resolves
// type and message references and applies limits. Checks that need the whole
// model (cycles, call roles) are in validate.go.
type resolver struct {
	r       *reporter
	f       *File
	idsOK   bool // f.IDs is a valid range
	types   typeParser
	msgs    map[string]*Message
	byID    map[uint8]*Message
	ns      *namespace
	rawCall map[*Call]*rawCall
	calls   []*rawCall        // every call declared, for hints
	errPos  Pos               // errors.message, for checks on the error convention
	noBody  map[*Message]bool // messages whose payload is wrong, and reported
	errSect bool              // the schema has an errors section (maybe a wrong one)
}

func newResolver(path string, r *reporter) *resolver {
	return &resolver{
		r:       r,
		f:       &File{Path: path},
		types:   typeParser{structs: map[string]*Struct{}, enums: map[string]*Enum{}},
		msgs:    map[string]*Message{},
		byID:    map[uint8]*Message{},
		ns:      newNamespace(r),
		rawCall: map[*Call]*rawCall{},
		noBody:  map[*Message]bool{},
	}
}

// resolve builds rs.f from raw.
func (rs *resolver) resolve(raw *rawFile) {
	rs.calls = raw.Calls
	rs.header(raw)
	rs.declareTypes(raw)
	for i, e := range rs.f.Enums {
		rs.enumValues(e, raw.Enums[i])
	}
	for i, s := range rs.f.Structs {
		rs.fields(s, raw.Structs[i])
	}
	for _, m := range raw.Messages {
		rs.message(m)
	}
	rs.accessLevels(raw.Access)
	for _, c := range raw.Calls {
		rs.call(c)
	}
	rs.errorConv(raw.Errors)
	rs.reserved(raw.Reserved)
}

func (rs *resolver) header(raw *rawFile) {
	f := rs.f
	if raw.Version.Set {
		f.Version = int(raw.Version.V)
		if raw.Version.V != 1 {
			rs.r.errorf(raw.Version.Pos, "unsupported schema version %d (want 1)", raw.Version.V)
		}
	}
	if raw.Package.Set {
		f.Package = raw.Package.V
		if msg := packageProblem(raw.Package.V); msg != "" {
			rs.r.errorf(raw.Package.Pos, "package %q %s", raw.Package.V, msg)
		}
	}
	f.Doc = trimDoc(raw.Doc.V)
	rs.ids(raw.IDs)
	if l := raw.Limits; l != nil {
		if rs.checkLimit(l.MaxLen, "limits.max_len") {
			f.Limits.MaxLen = uint32(l.MaxLen.V)
		}
		if rs.checkLimit(l.MaxItems, "limits.max_items") {
			f.Limits.MaxItems = uint32(l.MaxItems.V)
		}
	}
}

func (rs *resolver) ids(ids *rawIDs) {
	if ids == nil || !ids.Min.Set || !ids.Max.Set {
		return
	}
	ok := rs.checkByte(ids.Min, "ids.min")
	ok = rs.checkByte(ids.Max, "ids.max") && ok
	if !ok {
		return
	}
	if ids.Min.V > ids.Max.V {
		rs.r.errorf(ids.Min.Pos, "ids.min 0x%02x is greater than ids.max 0x%02x", ids.Min.V, ids.Max.V)
		return
	}
	rs.f.IDs = IDRange{Min: uint8(ids.Min.V), Max: uint8(ids.Max.V)}
	if ids.Max.V >= ReservedMin {
		rs.r.errorf(ids.Pos, "ids 0x%02x..0x%02x overlap the runtime's reserved block 0x%02x..0xff", ids.Min.V, ids.Max.V, ReservedMin)
		return
	}
	rs.idsOK = true
}

// checkByte reports whether v is a valid message id.
func (rs *resolver) checkByte(v rawInt, what string) bool {
	if v.V < 0 || v.V > math.MaxUint8 {
		rs.r.errorf(v.Pos, "%s %d is out of range 0..255 (0x00..0xff)", what, v.V)
		return false
	}
	return true
}

// checkLimit reports whether v is set and a valid max_len or max_items.
func (rs *resolver) checkLimit(v rawInt, what string) bool {
	if !v.Set {
		return false
	}
	if v.V < 1 || v.V > int64(MaxLimit) {
		rs.r.errorf(v.Pos, "%s must be between 1 and %d, got %d", what, MaxLimit, v.V)
		return false
	}
	return true
}

// declareTypes creates the model's enums and structs, so that field types
// can refer to any of them, and claims their names.
func (rs *resolver) declareTypes(raw *rawFile) {
	for _, re := range raw.Enums {
		e := &Enum{Name: re.Name.V, Doc: re.doc(), Pos: re.Name.Pos}
		rs.f.Enums = append(rs.f.Enums, e)
		rs.types.enums[e.Name] = e // even if misnamed: one error, not one per use
		if checkGoName(rs.r, re.Name, "enum name") {
			rs.ns.declare(e.Name, decl{what: fmt.Sprintf("enum %q", e.Name), pos: e.Pos})
		}
	}
	for _, raws := range raw.Structs {
		s := &Struct{Name: raws.Name.V, Doc: raws.doc(), Pos: raws.Name.Pos}
		rs.f.Structs = append(rs.f.Structs, s)
		if _, isEnum := rs.types.enums[s.Name]; !isEnum {
			rs.types.structs[s.Name] = s
		}
		if checkGoName(rs.r, raws.Name, "struct name") {
			rs.ns.declare(s.Name, decl{what: fmt.Sprintf("struct %q", s.Name), pos: s.Pos})
		}
	}
}

// enumValues resolves the base type and the values of e.
func (rs *resolver) enumValues(e *Enum, re *rawEnum) {
	if re.Type.Set {
		k, ok := builtins[re.Type.V]
		if ok && (k == KindString || k.IsInteger()) {
			e.Base = k
		} else {
			rs.r.errorf(re.Type.Pos, "enum type %q must be string or an integer type (int, int8..int64, uint, uint8..uint64)", re.Type.V)
		}
	}
	if len(re.Values) == 0 && !re.Bad {
		rs.r.errorf(re.Name.Pos, "enum %q has no values", e.Name)
	}
	seen := map[string]*EnumValue{}
	for _, rv := range re.Values {
		v := &EnumValue{Name: rv.Name.V, Doc: rv.doc(), Pos: rv.Pos}
		e.Values = append(e.Values, v)
		if rv.Name.Set && checkGoName(rs.r, rv.Name, "enum value name") {
			rs.ns.declare(v.Name, decl{what: fmt.Sprintf("enum value %q of enum %q", v.Name, e.Name), pos: rv.Name.Pos})
		}
		if !rs.enumValue(e, v, rv.Value) {
			continue
		}
		key := fmt.Sprint(v.Int)
		if e.Base == KindString {
			key = fmt.Sprintf("%q", v.Str)
		}
		if prev, dup := seen[key]; dup {
			rs.r.errorf(rv.Value.Pos, "duplicate value %s in enum %q (also used by %q at %s)", key, e.Name, prev.Name, prev.Pos)
			continue
		}
		seen[key] = v
	}
}

// enumValue checks a value against the enum's base type and stores it in v.
func (rs *resolver) enumValue(e *Enum, v *EnumValue, raw rawValue) bool {
	if !raw.Set || e.Base == 0 {
		return false
	}
	if e.Base == KindString {
		if !raw.IsStr {
			rs.r.errorf(raw.Pos, "value of %q must be a string (enum %q is of type string), got integer %d", v.Name, e.Name, raw.Int)
			return false
		}
		v.Str = raw.Str
		return true
	}
	if raw.IsStr {
		rs.r.errorf(raw.Pos, "value of %q must be an integer (enum %q is of type %s), got string %q", v.Name, e.Name, e.Base, raw.Str)
		return false
	}
	lo, hi := intRange(e.Base)
	if raw.Int < lo || raw.Int > hi {
		rs.r.errorf(raw.Pos, "value %d of %q is out of range for %s (%d..%d)", raw.Int, v.Name, e.Base, lo, hi)
		return false
	}
	v.Int = raw.Int
	return true
}

// intRange is the range of an integer kind, as far as an int64 holds it.
func intRange(k Kind) (lo, hi int64) {
	switch k {
	case KindInt8:
		return math.MinInt8, math.MaxInt8
	case KindInt16:
		return math.MinInt16, math.MaxInt16
	case KindInt32:
		return math.MinInt32, math.MaxInt32
	case KindUint8:
		return 0, math.MaxUint8
	case KindUint16:
		return 0, math.MaxUint16
	case KindUint32:
		return 0, math.MaxUint32
	case KindUint, KindUint64:
		return 0, math.MaxInt64
	}
	return math.MinInt64, math.MaxInt64
}

// fields resolves the fields of s: names, keys, types and limits.
func (rs *resolver) fields(s *Struct, raws *rawStruct) {
	names := map[string]*Field{}
	keys := map[string]*Field{}
	for _, rf := range raws.Fields {
		f := &Field{Name: rf.Name.V, Key: rf.Key.V, Doc: rf.doc(), OmitEmpty: rf.OmitEmpty.V, Pos: rf.Pos}
		s.Fields = append(s.Fields, f)
		if rf.Name.Set && rs.fieldName(rf.Name) {
			if prev, dup := names[f.Name]; dup {
				rs.r.errorf(rf.Name.Pos, "duplicate field name %q in struct %q (first at %s)", f.Name, s.Name, prev.Pos)
			} else {
				names[f.Name] = f
			}
		}
		if rf.Key.Set {
			if msg := keyProblem(f.Key); msg != "" {
				rs.r.errorf(rf.Key.Pos, "key %q %s", f.Key, msg)
			} else if prev, dup := keys[f.Key]; dup {
				rs.r.errorf(rf.Key.Pos, "duplicate key %q in struct %q (also used by field %q at %s)", f.Key, s.Name, prev.Name, prev.Pos)
			} else {
				keys[f.Key] = f
			}
		}
		if rf.Type.Set {
			t, msg := rs.types.parse(rf.Type.V)
			if t == nil {
				rs.r.errorf(rf.Type.Pos, "%s", msg)
				continue
			}
			f.Type = t
			rs.limits(f, rf)
		}
	}
}

// fieldName checks a field's Go name.
func (rs *resolver) fieldName(name rawStr) bool {
	return checkGoName(rs.r, name, "field name")
}

// limits checks the field's own limits and stores the effective ones.
func (rs *resolver) limits(f *Field, rf *rawField) {
	if hasString(f.Type) {
		f.MaxLen = effective(rf.MaxLen, rs.f.Limits.MaxLen, DefaultMaxLen)
	} else if rf.MaxLen.Set {
		rs.r.errorf(rf.MaxLen.Pos, "max_len needs a string or bytes type, field %q is %s", f.Name, f.Type)
	}
	if hasItems(f.Type) {
		f.MaxItems = effective(rf.MaxItems, rs.f.Limits.MaxItems, DefaultMaxItems)
	} else if rf.MaxItems.Set {
		rs.r.errorf(rf.MaxItems.Pos, "max_items needs a list or map type, field %q is %s", f.Name, f.Type)
	}
	if rf.MaxLen.Set && f.MaxLen != 0 {
		rs.checkLimit(rf.MaxLen, "max_len")
	}
	if rf.MaxItems.Set && f.MaxItems != 0 {
		rs.checkLimit(rf.MaxItems, "max_items")
	}
}

// effective picks the field's limit, else the file's, else the default.
func effective(field rawInt, file, def uint32) uint32 {
	switch {
	case field.Set && field.V >= 1 && field.V <= int64(MaxLimit):
		return uint32(field.V)
	case file != 0:
		return file
	}
	return def
}

// trimDoc removes the blank space YAML block scalars leave around a text.
func trimDoc(s string) string {
	return strings.TrimSpace(s)
}

func sortedStrings(s []string) []string {
	slices.Sort(s)
	return s
}
