package server

import (
	"errors"
	"fmt"
)

// LimitError reports an answer (a response or a stream frame) over one of
// the schema's limits: every client would reject it, so it is not sent. The
// request is answered with the protocol's error response carrying this
// error's text, and the server logs it. Generated limit checks return it.
type LimitError struct {
	Field string // the field's path from the message, e.g. "Entries" or "Entries[3].ID"
	Limit string // the schema's limit: "max_len" or "max_items"
	Max   uint32 // its value
	Got   int    // the field's length: bytes for max_len, elements for max_items
}

func (e *LimitError) Error() string {
	unit := "bytes"
	if e.Limit == "max_items" {
		unit = "items"
	}
	return fmt.Sprintf("server: answer not sent: field %s has %d %s, over the schema's %s %d",
		e.Field, e.Got, unit, e.Limit, e.Max)
}

// OverMaxLen is the *LimitError of a string or bytes field of n bytes over
// max_len.
func OverMaxLen(field string, n int, max uint32) error {
	return &LimitError{Field: field, Limit: "max_len", Max: max, Got: n}
}

// OverMaxItems is the *LimitError of a list or map field of n elements over
// max_items.
func OverMaxItems(field string, n int, max uint32) error {
	return &LimitError{Field: field, Limit: "max_items", Max: max, Got: n}
}

// LimitInField prefixes the path of a *LimitError found inside field (a
// nested struct or pointer); other errors pass through.
func LimitInField(err error, field string) error {
	var le *LimitError
	if errors.As(err, &le) {
		le.Field = join(field, le.Field)
	}
	return err
}

// LimitInElem prefixes the path of a *LimitError found in element i of
// the list field.
func LimitInElem(err error, field string, i int) error {
	return LimitInField(err, fmt.Sprintf("%s[%d]", field, i))
}

// LimitInKey prefixes the path of a *LimitError found at key k of the map
// field.
func LimitInKey(err error, field, k string) error {
	return LimitInField(err, fmt.Sprintf("%s[%q]", field, k))
}

func join(prefix, field string) string {
	if prefix == "" {
		return field
	}
	if field == "" {
		return prefix
	}
	if field[0] == '[' {
		return prefix + field
	}
	return prefix + "." + field
}
