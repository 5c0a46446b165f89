package msgjson

import (
	"github.com/mgmtgen/mgmtgen/internal/schema"
	"github.com/tinylib/msgp/msgp"
)

// Bool returns the bool field f of the struct payload b: a stream's
// last_when field. Absent or nil is false.
func Bool(b []byte, f *schema.Field) (bool, error) {
	v, err := field(b, f.Key)
	if err != nil || v == nil || msgp.IsNil(v) {
		return false, err
	}
	x, _, err := msgp.ReadBoolBytes(v)
	return x, err
}

// String returns the string field f of the struct payload b: an error
// field. Absent or nil is "".
func String(b []byte, f *schema.Field) (string, error) {
	v, err := field(b, f.Key)
	if err != nil || v == nil || msgp.IsNil(v) {
		return "", err
	}
	x, _, err := msgp.ReadStringBytes(v)
	return x, err
}

// field returns the encoding of key's value in the map b (the last one when
// repeated), or nil when b lacks the key.
func field(b []byte, key string) ([]byte, error) {
	if len(b) > 0 && msgp.IsNil(b) {
		return nil, nil
	}
	n, rest, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		return nil, err
	}
	var found []byte
	for range n {
		var k []byte
		if k, rest, err = msgp.ReadMapKeyZC(rest); err != nil {
			return nil, err
		}
		after, err := msgp.Skip(rest)
		if err != nil {
			return nil, err
		}
		if string(k) == key {
			found = rest[:len(rest)-len(after)]
		}
		rest = after
	}
	return found, nil
}
