// Package msgjson converts between JSON and the MessagePack payloads of a
// schema, driven by the schema model alone: no generated code, so a tool can
// speak any protocol it has the schema of. "mgmtgen call" uses it.
//
// The JSON form of a struct is an object keyed by the fields' Go names (the
// msgpack keys are accepted too on input); every field is written on output,
// zero values included, in schema order. Per type:
//
//	bool, ints, floats   JSON booleans and numbers (NaN and infinities as "NaN", "+Inf", "-Inf")
//	string               a JSON string
//	bytes                a base64 (standard) string; with Options.BytesAsText, the text itself
//	time                 an RFC 3339 string with nanoseconds, in UTC
//	duration             a Go duration string ("1.5s"); on input also integer nanoseconds
//	string enum          its value, a string
//	integer enum         its constant's name; on input also the number
//	[]T                  an array (null for an absent list on input)
//	map[string]T         an object, keys sorted on output
//	*T                   null or T
//
// Encoding writes what the generated encoder writes for the same Go value:
// every field in schema order, absent ones as zero values, omitempty fields
// left out when zero (lists, maps and bytes when absent), so a generated
// decoder reads it back as that value. Decoding accepts what generated
// decoders accept: keys in any order, unknown keys skipped, any integer width
// that fits, nil for absent values.
package msgjson

import (
	"fmt"
	"strings"
)

// Options change how values are written.
type Options struct {
	// BytesAsText writes and reads bytes fields as text instead of base64.
	// Output that is not valid UTF-8 has its invalid bytes replaced by U+FFFD.
	BytesAsText bool
}

// maxDepth bounds nesting (recursive types through pointers, lists, maps),
// in both directions, so hostile input cannot exhaust the stack.
const maxDepth = 256

// Error is one problem in a JSON request, at a 1-based line and column.
type Error struct {
	Line, Col int
	Path      string // e.g. "Entries[2].ID"; empty for the whole value
	Msg       string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg)
	}
	return fmt.Sprintf("%d:%d: %s: %s", e.Line, e.Col, e.Path, e.Msg)
}

// ErrorList is every problem found in a JSON request, in input order.
type ErrorList []*Error

func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// maxErrors stops a request with many problems from flooding the terminal.
const maxErrors = 20
