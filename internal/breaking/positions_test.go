package breaking

import (
	"slices"
	"testing"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

// What the new schema dropped is reported where the old one declared it:
// the errors: section, a reserved id, a reserved key (never at 1:1).
func TestRemovalsAtTheOldPosition(t *testing.T) {
	old := parse(t, "old.yaml", `version: 1
package: p
ids: {min: 1, max: 9}
structs:
  R: {fields: [{name: Err, key: err, type: string}]}
messages:
  Q: {id: 1}
  A: {id: 2, payload: R}
calls:
  Ask: {request: Q, response: A, error_field: Err}
errors: {message: A, field: Err}
reserved:
  ids: [7, 8]
  keys:
    R: [old, older]
`)
	new := parse(t, "new.yaml", `version: 1
package: p
ids: {min: 1, max: 9}
structs:
  R: {fields: [{name: Err, key: err, type: string}]}
messages:
  Q: {id: 1}
  A: {id: 2, payload: R}
calls:
  Ask: {request: Q, response: A, error_field: Err}
reserved:
  ids: [7]
  keys:
    R: [old]
`)
	var got []string
	for _, f := range Compare(old, new, Wire) {
		got = append(got, f.String())
	}
	want := []string{
		`old.yaml:11:19: ERRORS_CHANGED: the error response changed from A (0x02) field "err" to none`,
		`old.yaml:13:12: RESERVATION_REMOVED: id 0x08 is no longer in reserved.ids`,
		`old.yaml:15:14: RESERVATION_REMOVED: key "older" of R is no longer in reserved.keys`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("findings\n%q\nwant\n%q", got, want)
	}
	// Added back: at the new schema's errors: section.
	got = nil
	for _, f := range Compare(new, old, Wire) {
		got = append(got, f.String())
	}
	if w := `old.yaml:11:19: ERRORS_CHANGED: the error response changed from none to A (0x02) field "err"`; !slices.Contains(got, w) {
		t.Errorf("findings %q, want %q", got, w)
	}
}

func parse(t *testing.T, path, src string) *schema.File {
	t.Helper()
	f, err := schema.Parse(path, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return f
}
