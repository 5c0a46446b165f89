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
	"time"

	"github.com/mgmtgen/mgmtgen/internal/schema"
	"github.com/tinylib/msgp/msgp"
)

// Decode converts the msgpack payload b of struct s to compact JSON. Bytes
// after the payload's value are an error, as is any value that does not fit
// its field's type.
func Decode(s *schema.Struct, b []byte, opts Options) ([]byte, error) {
	d := &decoder{opts: opts}
	out, rest, err := d.value(nil, &schema.Type{Kind: schema.KindStruct, Struct: s}, b, "", 0)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("%d bytes after the %s payload", len(rest), s.Name)
	}
	return out, nil
}

// DecodeError is a payload that does not fit the schema.
type DecodeError struct {
	Path string // e.g. "Entries[2].ID"; empty for the whole payload
	Err  error
}

func (e *DecodeError) Error() string {
	if e.Path == "" {
		return "payload: " + e.Err.Error()
	}
	return "payload: " + e.Path + ": " + e.Err.Error()
}

func (e *DecodeError) Unwrap() error { return e.Err }

type decoder struct {
	opts Options
}

func fail(path string, err error) error {
	var de *DecodeError
	if errors.As(err, &de) {
		return err
	}
	return &DecodeError{Path: path, Err: err}
}

// value appends the JSON of the msgpack value at the start of b, of type t,
// and returns the bytes after it.
func (d *decoder) value(out []byte, t *schema.Type, b []byte, path string, depth int) ([]byte, []byte, error) {
	if depth > maxDepth {
		return nil, nil, fail(path, fmt.Errorf("nested more than %d levels deep", maxDepth))
	}
	if len(b) == 0 {
		return nil, nil, fail(path, msgp.ErrShortBytes)
	}
	if msgp.IsNil(b) {
		return appendZeroJSON(out, t, d.opts), b[1:], nil
	}
	switch t.Kind {
	case schema.KindStruct:
		return d.object(out, t.Struct, b, path, depth)
	case schema.KindList:
		n, rest, err := msgp.ReadArrayHeaderBytes(b)
		if err != nil {
			return nil, nil, fail(path, err)
		}
		out = append(out, '[')
		for i := range n {
			if i > 0 {
				out = append(out, ',')
			}
			if out, rest, err = d.value(out, t.Elem, rest, fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
				return nil, nil, err
			}
		}
		return append(out, ']'), rest, nil
	case schema.KindMap:
		return d.mapping(out, t, b, path, depth)
	case schema.KindPointer:
		return d.value(out, t.Elem, b, path, depth+1)
	}
	out, rest, err := d.scalar(out, t, b)
	if err != nil {
		return nil, nil, fail(path, err)
	}
	return out, rest, nil
}

// object writes every field of s in schema order, zero values for the keys
// the payload lacks; unknown keys are skipped, a repeated key's last value wins.
func (d *decoder) object(out []byte, s *schema.Struct, b []byte, path string, depth int) ([]byte, []byte, error) {
	n, rest, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		return nil, nil, fail(path, err)
	}
	vals := make([][]byte, len(s.Fields))
	for range n {
		var key []byte
		if key, rest, err = msgp.ReadMapKeyZC(rest); err != nil {
			return nil, nil, fail(path, err)
		}
		i := keyIndex(s, string(key))
		if i < 0 {
			if rest, err = msgp.Skip(rest); err != nil {
				return nil, nil, fail(path, err)
			}
			continue
		}
		f := s.Fields[i]
		if vals[i], rest, err = d.value(nil, f.Type, rest, join(path, f.Name), depth+1); err != nil {
			return nil, nil, err
		}
	}
	out = append(out, '{')
	for i, f := range s.Fields {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendString(out, f.Name)
		out = append(out, ':')
		if vals[i] == nil {
			vals[i] = appendZeroJSON(nil, f.Type, d.opts)
		}
		out = append(out, vals[i]...)
	}
	return append(out, '}'), rest, nil
}

func keyIndex(s *schema.Struct, key string) int {
	for i, f := range s.Fields {
		if f.Key == key {
			return i
		}
	}
	return -1
}

// mapping writes a map with its keys sorted, so output is deterministic.
func (d *decoder) mapping(out []byte, t *schema.Type, b []byte, path string, depth int) ([]byte, []byte, error) {
	n, rest, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		return nil, nil, fail(path, err)
	}
	type entry struct {
		key string
		val []byte
	}
	var entries []entry
	for range n {
		var key string
		if key, rest, err = msgp.ReadStringBytes(rest); err != nil {
			return nil, nil, fail(path, err)
		}
		var v []byte
		if v, rest, err = d.value(nil, t.Elem, rest, fmt.Sprintf("%s[%q]", path, key), depth+1); err != nil {
			return nil, nil, err
		}
		entries = append(entries, entry{key, v})
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].key < entries[j].key })
	out = append(out, '{')
	for i, e := range entries {
		if i > 0 && e.key == entries[i-1].key {
			continue // a repeated key: a Go map keeps one; keep the first in order
		}
		if len(out) > 0 && out[len(out)-1] != '{' {
			out = append(out, ',')
		}
		out = appendString(out, e.key)
		out = append(out, ':')
		out = append(out, e.val...)
	}
	return append(out, '}'), rest, nil
}

func (d *decoder) scalar(out []byte, t *schema.Type, b []byte) ([]byte, []byte, error) {
	switch t.Kind {
	case schema.KindBool:
		v, rest, err := msgp.ReadBoolBytes(b)
		return strconv.AppendBool(out, v), rest, err
	case schema.KindString:
		v, rest, err := msgp.ReadStringZC(b)
		return appendString(out, string(v)), rest, err
	case schema.KindBytes:
		v, rest, err := msgp.ReadBytesZC(b)
		return appendBytes(out, v, d.opts), rest, err
	case schema.KindFloat32, schema.KindFloat64:
		v, rest, err := msgp.ReadFloat64Bytes(b)
		return appendFloat(out, v, t.Kind), rest, err
	case schema.KindTime:
		v, rest, err := msgp.ReadTimeBytes(b)
		return appendString(out, v.UTC().Format(time.RFC3339Nano)), rest, err
	case schema.KindDuration:
		v, rest, err := msgp.ReadDurationBytes(b)
		return appendString(out, v.String()), rest, err
	case schema.KindEnum:
		return d.enum(out, t.Enum, b)
	}
	if isUnsigned(t.Kind) {
		v, rest, err := msgp.ReadUint64Bytes(b)
		if err == nil && intBits(t.Kind) < 64 && v>>intBits(t.Kind) != 0 {
			err = fmt.Errorf("%d out of range for %s", v, t.Kind)
		}
		return strconv.AppendUint(out, v, 10), rest, err
	}
	v, rest, err := msgp.ReadInt64Bytes(b)
	if bits := intBits(t.Kind); err == nil && bits < 64 && (v < -1<<(bits-1) || v >= 1<<(bits-1)) {
		err = fmt.Errorf("%d out of range for %s", v, t.Kind)
	}
	return strconv.AppendInt(out, v, 10), rest, err
}

// enum writes a string enum's value, an integer enum's constant name (its
// number when no constant has it).
func (d *decoder) enum(out []byte, en *schema.Enum, b []byte) ([]byte, []byte, error) {
	base := &schema.Type{Kind: en.Base}
	if en.Base == schema.KindString {
		return d.scalar(out, base, b)
	}
	num, rest, err := d.scalar(nil, base, b)
	if err != nil {
		return nil, nil, err
	}
	for _, v := range en.Values {
		if strconv.FormatInt(v.Int, 10) == string(num) {
			return appendString(out, v.Name), rest, nil
		}
	}
	return append(out, num...), rest, nil
}

// appendZeroJSON writes the JSON of t's zero value: what an absent key or a
// msgpack nil decodes to. Lists, maps and bytes are null (nil), as Go's own
// JSON encoder writes them, so that an empty value ([] or "") stays distinct.
func appendZeroJSON(out []byte, t *schema.Type, opts Options) []byte {
	switch t.Kind {
	case schema.KindBool:
		return append(out, "false"...)
	case schema.KindString:
		return append(out, `""`...)
	case schema.KindFloat32, schema.KindFloat64:
		return append(out, '0')
	case schema.KindTime:
		return appendString(out, time.Time{}.Format(time.RFC3339Nano))
	case schema.KindDuration:
		return appendString(out, time.Duration(0).String())
	case schema.KindStruct:
		out = append(out, '{')
		for i, f := range t.Struct.Fields {
			if i > 0 {
				out = append(out, ',')
			}
			out = appendString(out, f.Name)
			out = append(out, ':')
			out = appendZeroJSON(out, f.Type, opts)
		}
		return append(out, '}')
	case schema.KindList, schema.KindMap, schema.KindBytes, schema.KindPointer:
		return append(out, "null"...) // nil, as the generated decoder leaves it
	case schema.KindEnum:
		if t.Enum.Base == schema.KindString {
			return append(out, `""`...)
		}
		for _, v := range t.Enum.Values {
			if v.Int == 0 {
				return appendString(out, v.Name)
			}
		}
	}
	return append(out, '0')
}

func appendFloat(out []byte, f float64, k schema.Kind) []byte {
	switch {
	case math.IsNaN(f):
		return append(out, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(out, `"+Inf"`...)
	case math.IsInf(f, -1):
		return append(out, `"-Inf"`...)
	}
	bits := 64
	if k == schema.KindFloat32 {
		bits = 32
	}
	return strconv.AppendFloat(out, f, 'g', -1, bits)
}

func appendBytes(out, b []byte, opts Options) []byte {
	if opts.BytesAsText {
		return appendString(out, string(b))
	}
	return appendString(out, base64.StdEncoding.EncodeToString(b))
}

// appendString writes s as a JSON string, without HTML escaping.
func appendString(out []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return append(out, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}
