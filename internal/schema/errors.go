package schema

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Error is one problem in a schema file, at the position of the offending
// YAML node.
type Error struct {
	Pos Pos
	Msg string
}

// Error formats e as "file:line:col: msg" (or "file:line: msg" when the
// column is unknown, as for YAML syntax errors).
func (e *Error) Error() string {
	if e.Pos.Col == 0 {
		return fmt.Sprintf("%s:%d: %s", e.Pos.File, e.Pos.Line, e.Msg)
	}
	return e.Pos.String() + ": " + e.Msg
}

// ErrorList is every problem found in a schema, sorted by position. Parse
// returns it (as an error) when the list is not empty.
type ErrorList []*Error

// Error joins the errors, one "pos: msg" per line.
func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Sort orders l by file, line, column and message.
func (l ErrorList) Sort() {
	slices.SortStableFunc(l, func(a, b *Error) int {
		return cmp.Or(
			cmp.Compare(a.Pos.File, b.Pos.File),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Col, b.Pos.Col),
			cmp.Compare(a.Msg, b.Msg),
		)
	})
}

// Err returns l sorted, as an error, or nil when l is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	l.Sort()
	return l
}

// reporter collects the errors of every pipeline stage.
type reporter struct {
	errs ErrorList
}

func (r *reporter) errorf(pos Pos, format string, args ...any) {
	r.errs = append(r.errs, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}
