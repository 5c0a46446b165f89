package msgjson

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mgmtgen/mgmtgen/internal/schema"
	"github.com/tinylib/msgp/msgp"
)

// Encode converts the JSON text src to the msgpack payload of struct s.
// Problems come back as an ErrorList with positions in src; every bad field
// is reported, not only the first.
func Encode(s *schema.Struct, src []byte, opts Options) ([]byte, error) {
	e := &encoder{src: src, opts: opts, dec: json.NewDecoder(bytes.NewReader(src))}
	e.dec.UseNumber()
	out, ok := e.value(nil, &schema.Type{Kind: schema.KindStruct, Struct: s}, "", 0)
	if ok {
		e.end()
	}
	if len(e.errs) > 0 {
		return nil, e.errs
	}
	return out, nil
}

// end reports anything after the request's value.
func (e *encoder) end() {
	off := int(e.dec.InputOffset())
	if rest := bytes.TrimSpace(e.src[off:]); len(rest) > 0 {
		e.errorf(off+bytes.Index(e.src[off:], rest[:1]), "", "unexpected text after the request's JSON value")
	}
}

type encoder struct {
	src  []byte
	opts Options
	dec  *json.Decoder
	errs ErrorList
	last int // offset of the last token read
	bad  bool
}

// token reads the next token and records where it starts.
func (e *encoder) token() (json.Token, bool) {
	off := int(e.dec.InputOffset())
	for off < len(e.src) && strings.IndexByte(" \t\r\n,:", e.src[off]) >= 0 {
		off++
	}
	e.last = off
	tok, err := e.dec.Token()
	if err != nil {
		e.syntax(err)
		return nil, false
	}
	return tok, true
}

// syntax reports a JSON syntax error; decoding cannot go on after one.
func (e *encoder) syntax(err error) {
	if e.bad {
		return
	}
	e.bad = true
	off := e.last
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off = int(se.Offset)
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if err.Error() == "EOF" || err.Error() == "unexpected EOF" {
		off, msg = len(e.src), "unexpected end of JSON input"
		if len(bytes.TrimSpace(e.src)) == 0 {
			msg = "empty JSON input"
		}
	}
	e.errorf(off, "", "invalid JSON: %s", msg)
}

func (e *encoder) errorf(off int, path, format string, args ...any) {
	if len(e.errs) == maxErrors {
		return
	}
	line, col := position(e.src, off)
	e.errs = append(e.errs, &Error{Line: line, Col: col, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// position converts a byte offset of src to a 1-based line and column
// (columns count bytes, as compilers do).
func position(src []byte, off int) (line, col int) {
	off = min(off, len(src))
	line = 1 + bytes.Count(src[:off], []byte("\n"))
	return line, off - bytes.LastIndexByte(src[:off], '\n')
}

// value reads one JSON value of type t and appends its msgpack to out. It
// returns false after a syntax error (nothing more can be read); a value of
// the wrong type is reported, skipped, and reading goes on.
func (e *encoder) value(out []byte, t *schema.Type, path string, depth int) ([]byte, bool) {
	tok, ok := e.token()
	if !ok {
		return out, false
	}
	return e.valueTok(out, t, tok, e.last, path, depth)
}

// valueTok is value with its first token already read, starting at start.
func (e *encoder) valueTok(out []byte, t *schema.Type, tok json.Token, start int, path string, depth int) ([]byte, bool) {
	if depth > maxDepth {
		e.errorf(start, path, "nested more than %d levels deep", maxDepth)
		e.bad = true
		return out, false
	}
	if t == anyType {
		if tok == json.Delim('{') || tok == json.Delim('[') {
			return out, e.skip(1)
		}
		return out, true
	}
	if tok == nil { // null: the zero value, nil where the wire has one
		return appendZero(out, t), true
	}
	switch t.Kind {
	case schema.KindStruct:
		if tok != json.Delim('{') {
			return e.wrong(out, t, tok, start, path)
		}
		return e.object(out, t.Struct, path, depth)
	case schema.KindList:
		if tok != json.Delim('[') {
			return e.wrong(out, t, tok, start, path)
		}
		return e.array(out, t, path, depth)
	case schema.KindMap:
		if tok != json.Delim('{') {
			return e.wrong(out, t, tok, start, path)
		}
		return e.mapping(out, t, path, depth)
	case schema.KindPointer:
		return e.valueTok(out, t.Elem, tok, start, path, depth+1)
	}
	if _, ok := tok.(json.Delim); ok {
		return e.wrong(out, t, tok, start, path)
	}
	b, msg := scalar(out, t, tok, e.opts)
	if msg != "" {
		e.errorf(start, path, "%s", msg)
	}
	return b, true
}

// wrong reports a value of the wrong JSON type, skips it, and appends the
// zero value so that encoding can go on to find further problems.
func (e *encoder) wrong(out []byte, t *schema.Type, tok json.Token, start int, path string) ([]byte, bool) {
	e.errorf(start, path, "want %s, got %s", want(t), describeToken(tok))
	if d, ok := tok.(json.Delim); ok && (d == '{' || d == '[') {
		if !e.skip(1) {
			return out, false
		}
	}
	return appendZero(out, t), true
}

// skip reads tokens until depth open objects and arrays are closed.
func (e *encoder) skip(depth int) bool {
	for depth > 0 {
		tok, ok := e.token()
		if !ok {
			return false
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return true
}

// members reads the members of a JSON object after its "{", calling fn
// with each key and its offset; fn reads the value. It returns false after a
// syntax error.
func (e *encoder) members(fn func(key string, at int) bool) bool {
	for {
		tok, ok := e.token()
		if !ok {
			return false
		}
		if tok == json.Delim('}') {
			return true
		}
		key, _ := tok.(string) // json.Decoder gives only strings as keys
		if !fn(key, e.last) {
			return false
		}
	}
}

// object reads the members of a JSON object (after its "{") as struct s:
// every field in schema order, absent ones as zero values.
func (e *encoder) object(out []byte, s *schema.Struct, path string, depth int) ([]byte, bool) {
	vals := make([][]byte, len(s.Fields))
	ok := e.members(func(name string, at int) bool {
		i := fieldIndex(s, name)
		if i < 0 {
			e.errorf(at, path, "unknown field %q of %s%s", name, s.Name, suggestField(s, name))
			_, ok := e.value(nil, anyType, join(path, name), depth+1)
			return ok
		}
		f := s.Fields[i]
		fpath := join(path, f.Name)
		if vals[i] != nil {
			e.errorf(at, path, "field %s given twice", f.Name)
		}
		v, ok := e.value(nil, f.Type, fpath, depth+1)
		e.checkLimits(v, f, fpath, at)
		vals[i] = v
		return ok
	})
	if !ok {
		return out, false
	}
	return appendStruct(out, s, vals), true
}

// anyType reads (and drops) any JSON value: an unknown field's.
var anyType = &schema.Type{Kind: -1}

// appendStruct writes s as a msgpack map: vals[i] is field i's encoding, or
// nil for an absent field (its zero value).
func appendStruct(out []byte, s *schema.Struct, vals [][]byte) []byte {
	n := 0
	for i, f := range s.Fields {
		if vals[i] == nil {
			vals[i] = appendZero(nil, f.Type)
		}
		if !(f.OmitEmpty && isEmpty(f.Type, vals[i])) {
			n++
		}
	}
	out = msgp.AppendMapHeader(out, uint32(n))
	for i, f := range s.Fields {
		if f.OmitEmpty && isEmpty(f.Type, vals[i]) {
			continue
		}
		out = msgp.AppendString(out, f.Key)
		out = append(out, vals[i]...)
	}
	return out
}

func (e *encoder) array(out []byte, t *schema.Type, path string, depth int) ([]byte, bool) {
	var items []byte
	n := 0
	for {
		tok, ok := e.token()
		if !ok {
			return out, false
		}
		if tok == json.Delim(']') {
			break
		}
		items, ok = e.valueTok(items, t.Elem, tok, e.last, fmt.Sprintf("%s[%d]", path, n), depth+1)
		if !ok {
			return out, false
		}
		n++
	}
	return append(msgp.AppendArrayHeader(out, uint32(n)), items...), true
}

func (e *encoder) mapping(out []byte, t *schema.Type, path string, depth int) ([]byte, bool) {
	var items []byte
	n := 0
	seen := map[string]bool{}
	ok := e.members(func(key string, at int) bool {
		if seen[key] {
			e.errorf(at, path, "key %q given twice", key)
		}
		seen[key] = true
		items = msgp.AppendString(items, key)
		var ok bool
		items, ok = e.value(items, t.Elem, fmt.Sprintf("%s[%q]", path, key), depth+1)
		n++
		return ok
	})
	if !ok {
		return out, false
	}
	return append(msgp.AppendMapHeader(out, uint32(n)), items...), true
}

// checkLimits reports a string, bytes, list or map field over its limit,
// which the server would refuse.
func (e *encoder) checkLimits(v []byte, f *schema.Field, path string, at int) {
	if f.MaxItems > 0 && (f.Type.Kind == schema.KindList || f.Type.Kind == schema.KindMap) {
		var n uint32
		if f.Type.Kind == schema.KindList {
			n, _, _ = msgp.ReadArrayHeaderBytes(v)
		} else {
			n, _, _ = msgp.ReadMapHeaderBytes(v)
		}
		if n > f.MaxItems {
			e.errorf(at, path, "%d items, more than max_items %d", n, f.MaxItems)
		}
	}
	if f.MaxLen > 0 {
		if n, ok := textLen(f.Type, v); ok && n > f.MaxLen {
			e.errorf(at, path, "%d bytes, more than max_len %d", n, f.MaxLen)
		}
	}
}

// textLen is the length of a string or bytes value's encoding v.
func textLen(t *schema.Type, v []byte) (uint32, bool) {
	switch {
	case t.Kind == schema.KindString, t.Kind == schema.KindEnum && t.Enum.Base == schema.KindString:
		s, _, err := msgp.ReadStringZC(v)
		return uint32(len(s)), err == nil
	case t.Kind == schema.KindBytes:
		b, _, err := msgp.ReadBytesZC(v)
		return uint32(len(b)), err == nil
	}
	return 0, false
}

// scalar appends the msgpack of a JSON scalar tok of type t, or returns a
// message saying why it does not fit.
func scalar(out []byte, t *schema.Type, tok json.Token, opts Options) ([]byte, string) {
	bad := func() ([]byte, string) {
		return appendZero(out, t), fmt.Sprintf("want %s, got %s", want(t), describeToken(tok))
	}
	switch t.Kind {
	case -1:
		return out, ""
	case schema.KindBool:
		b, ok := tok.(bool)
		if !ok {
			return bad()
		}
		return msgp.AppendBool(out, b), ""
	case schema.KindString:
		s, ok := tok.(string)
		if !ok {
			return bad()
		}
		return msgp.AppendString(out, s), ""
	case schema.KindBytes:
		s, ok := tok.(string)
		if !ok {
			return bad()
		}
		if opts.BytesAsText {
			return msgp.AppendBytes(out, []byte(s)), ""
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return appendZero(out, t), fmt.Sprintf("invalid base64 (bytes are base64 unless the bytes flag says text): %v", err)
		}
		return msgp.AppendBytes(out, b), ""
	case schema.KindFloat32, schema.KindFloat64:
		return floatValue(out, t, tok, bad)
	case schema.KindTime:
		s, ok := tok.(string)
		if !ok {
			return bad()
		}
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return appendZero(out, t), fmt.Sprintf("invalid time %q: want RFC 3339, e.g. \"2006-01-02T15:04:05.999999999Z\"", s)
		}
		return msgp.AppendTime(out, tm), ""
	case schema.KindDuration:
		switch v := tok.(type) {
		case string:
			d, err := time.ParseDuration(v)
			if err != nil {
				return appendZero(out, t), fmt.Sprintf("invalid duration %q: want e.g. \"1.5s\" or integer nanoseconds", v)
			}
			return msgp.AppendDuration(out, d), ""
		case json.Number:
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				return appendZero(out, t), fmt.Sprintf("invalid duration %s: want integer nanoseconds or e.g. \"1.5s\"", v)
			}
			return msgp.AppendDuration(out, time.Duration(n)), ""
		}
		return bad()
	case schema.KindEnum:
		return enumValue(out, t, tok, bad)
	}
	if t.Kind.IsInteger() {
		num, ok := tok.(json.Number)
		if !ok {
			return bad()
		}
		return intValue(out, t.Kind, string(num))
	}
	return bad()
}

func floatValue(out []byte, t *schema.Type, tok json.Token, bad func() ([]byte, string)) ([]byte, string) {
	var f float64
	switch v := tok.(type) {
	case json.Number:
		var err error
		if f, err = strconv.ParseFloat(string(v), 64); err != nil {
			return appendZero(out, t), fmt.Sprintf("number %s out of range for %s", v, t.Kind)
		}
	case string:
		switch v {
		case "NaN":
			f = math.NaN()
		case "+Inf", "Inf":
			f = math.Inf(1)
		case "-Inf":
			f = math.Inf(-1)
		default:
			return bad()
		}
	default:
		return bad()
	}
	if t.Kind == schema.KindFloat32 {
		if !math.IsInf(f, 0) && !math.IsNaN(f) && math.Abs(f) > math.MaxFloat32 {
			return appendZero(out, t), fmt.Sprintf("number %v out of range for float32", f)
		}
		return msgp.AppendFloat32(out, float32(f)), ""
	}
	return msgp.AppendFloat64(out, f), ""
}

// intValue appends the integer num of kind k in the form msgp writes for
// it: signed kinds as msgp.AppendInt64, unsigned as AppendUint64.
func intValue(out []byte, k schema.Kind, num string) ([]byte, string) {
	bits := intBits(k)
	if isUnsigned(k) {
		u, err := strconv.ParseUint(num, 10, bits)
		if _, serr := strconv.ParseInt(num, 10, 64); err != nil && serr == nil {
			err = strconv.ErrRange // negative
		}
		if err != nil {
			return appendZero(out, &schema.Type{Kind: k}), intProblem(k, num, err)
		}
		return msgp.AppendUint64(out, u), ""
	}
	i, err := strconv.ParseInt(num, 10, bits)
	if err != nil {
		return appendZero(out, &schema.Type{Kind: k}), intProblem(k, num, err)
	}
	return msgp.AppendInt64(out, i), ""
}

func intProblem(k schema.Kind, num string, err error) string {
	if errors.Is(err, strconv.ErrRange) {
		return fmt.Sprintf("%s out of range for %s", num, k)
	}
	return fmt.Sprintf("%s is not an integer (%s)", num, k)
}

func intBits(k schema.Kind) int {
	switch k {
	case schema.KindInt8, schema.KindUint8:
		return 8
	case schema.KindInt16, schema.KindUint16:
		return 16
	case schema.KindInt32, schema.KindUint32:
		return 32
	}
	return 64 // int and uint are 64 bits on every platform mgmtgen targets
}

func isUnsigned(k schema.Kind) bool {
	return k >= schema.KindUint && k <= schema.KindUint64
}

func enumValue(out []byte, t *schema.Type, tok json.Token, bad func() ([]byte, string)) ([]byte, string) {
	en := t.Enum
	if en.Base == schema.KindString {
		s, ok := tok.(string)
		if !ok {
			return bad()
		}
		for _, v := range en.Values {
			if v.Str == s {
				return msgp.AppendString(out, s), ""
			}
		}
		if s == "" { // the zero value
			return msgp.AppendString(out, s), ""
		}
		return appendZero(out, t), fmt.Sprintf("%q is not a value of %s (%s)", s, en.Name, enumChoices(en))
	}
	switch v := tok.(type) {
	case string:
		for _, ev := range en.Values {
			if ev.Name == v {
				return intValue(out, en.Base, strconv.FormatInt(ev.Int, 10))
			}
		}
		return appendZero(out, t), fmt.Sprintf("%q is not a constant of %s (%s)", v, en.Name, enumChoices(en))
	case json.Number:
		return intValue(out, en.Base, string(v))
	}
	return bad()
}

func enumChoices(en *schema.Enum) string {
	var names []string
	for _, v := range en.Values {
		if en.Base == schema.KindString {
			names = append(names, strconv.Quote(v.Str))
		} else {
			names = append(names, v.Name)
		}
	}
	return "one of " + strings.Join(names, ", ")
}

// appendZero appends the zero value of t as the generated encoder writes it.
func appendZero(out []byte, t *schema.Type) []byte {
	switch t.Kind {
	case schema.KindBool:
		return msgp.AppendBool(out, false)
	case schema.KindString:
		return msgp.AppendString(out, "")
	case schema.KindBytes, schema.KindList, schema.KindMap, schema.KindPointer:
		return msgp.AppendNil(out)
	case schema.KindFloat32:
		return msgp.AppendFloat32(out, 0)
	case schema.KindFloat64:
		return msgp.AppendFloat64(out, 0)
	case schema.KindTime:
		return msgp.AppendTime(out, time.Time{})
	case schema.KindDuration:
		return msgp.AppendDuration(out, 0)
	case schema.KindStruct:
		return appendStruct(out, t.Struct, make([][]byte, len(t.Struct.Fields)))
	case schema.KindEnum:
		return appendZero(out, &schema.Type{Kind: t.Enum.Base})
	case -1:
		return out
	}
	if isUnsigned(t.Kind) {
		return msgp.AppendUint64(out, 0)
	}
	return msgp.AppendInt64(out, 0)
}

// isEmpty reports whether the encoding v of a value of type t is what an
// omitempty field leaves out: zero numbers, empty strings, absent (nil)
// lists, maps and bytes, the zero time.
func isEmpty(t *schema.Type, v []byte) bool {
	switch t.Kind {
	case schema.KindList, schema.KindMap, schema.KindBytes, schema.KindPointer:
		return msgp.IsNil(v)
	case schema.KindTime:
		tm, _, err := msgp.ReadTimeBytes(v)
		return err == nil && tm.IsZero()
	case schema.KindStruct:
		return false
	}
	return bytes.Equal(v, appendZero(nil, t))
}

// want names what a value of t looks like in JSON, for messages.
func want(t *schema.Type) string {
	switch t.Kind {
	case schema.KindBool:
		return "a boolean"
	case schema.KindString:
		return "a string"
	case schema.KindBytes:
		return "a string (bytes)"
	case schema.KindTime:
		return "an RFC 3339 time string"
	case schema.KindDuration:
		return "a duration string or integer nanoseconds"
	case schema.KindStruct:
		return "an object (" + t.Struct.Name + ")"
	case schema.KindList:
		return "an array"
	case schema.KindMap:
		return "an object"
	case schema.KindPointer:
		return want(t.Elem) + " or null"
	case schema.KindEnum:
		if t.Enum.Base == schema.KindString {
			return "a string (" + t.Enum.Name + ")"
		}
		return "a constant name or number (" + t.Enum.Name + ")"
	case schema.KindFloat32, schema.KindFloat64:
		return "a number (" + t.Kind.String() + ")"
	}
	return "an integer (" + t.Kind.String() + ")"
}

func describeToken(tok json.Token) string {
	switch v := tok.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "the number " + string(v)
	case string:
		return "a string"
	case json.Delim:
		switch v {
		case '{':
			return "an object"
		case '[':
			return "an array"
		}
		return fmt.Sprintf("%q", string(v))
	}
	return fmt.Sprintf("%v", tok)
}

// fieldIndex finds a field by Go name or msgpack key.
func fieldIndex(s *schema.Struct, name string) int {
	for i, f := range s.Fields {
		if f.Name == name {
			return i
		}
	}
	for i, f := range s.Fields {
		if f.Key == name {
			return i
		}
	}
	return -1
}

// suggestField is " (did you mean "X"?)" for a near miss, or "" (fields
// listed when there are few).
func suggestField(s *schema.Struct, name string) string {
	for _, f := range s.Fields {
		if strings.EqualFold(f.Name, name) || strings.EqualFold(f.Key, name) {
			return fmt.Sprintf(" (did you mean %q?)", f.Name)
		}
	}
	var names []string
	for _, f := range s.Fields {
		names = append(names, f.Name)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return " (it has no fields)"
	}
	return " (fields: " + strings.Join(names, ", ") + ")"
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
