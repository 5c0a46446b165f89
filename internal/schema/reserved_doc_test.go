package schema

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestReservedNamesDocumented: schema/README.md's table of reserved names is
// the validator's own (Reserved), row by row, in both directions.
func TestReservedNamesDocumented(t *testing.T) {
	readme, err := os.ReadFile("../../schema/README.md")
	if err != nil {
		t.Fatal(err)
	}
	res := Reserved()
	var suffixed []string
	for _, s := range res.CallSuffixes {
		suffixed = append(suffixed, "<Call>"+s)
	}
	for _, row := range []struct {
		label string // how the README row starts
		want  []string
	}{
		{"package-level names of every generated package", res.Types},
		{"one constant per message", []string{res.MsgPrefix + "<Message>"}},
		{"two types per call", suffixed},
		{"call names:", res.Calls},
		{"field names:", res.Fields},
	} {
		got := docRow(t, string(readme), row.label)
		want := slices.Sorted(slices.Values(row.want))
		if !slices.Equal(got, want) {
			t.Errorf("schema/README.md row %q lists\n  %v\nthe validator reserves\n  %v", row.label, got, want)
		}
	}
	// And the validator rejects each of them.
	for _, name := range res.Types {
		src := "version: 1\npackage: p\nids: {min: 1, max: 2}\nstructs:\n  " + name + ": {}\n"
		if _, err := Parse("r.yaml", []byte(src)); err == nil || !strings.Contains(err.Error(), "reserved") {
			t.Errorf("struct %s: %v, want it reserved", name, err)
		}
	}
	for _, name := range res.Calls {
		src := "version: 1\npackage: p\nids: {min: 1, max: 2}\nmessages: {A: {id: 1}, B: {id: 2}}\ncalls:\n  " + name + ": {request: A, response: B}\n"
		if _, err := Parse("r.yaml", []byte(src)); err == nil || !strings.Contains(err.Error(), "reserved") {
			t.Errorf("call %s: %v, want it reserved", name, err)
		}
	}
	for _, name := range res.Fields {
		src := "version: 1\npackage: p\nids: {min: 1, max: 2}\nstructs:\n  S: {fields: [{name: " + name + ", key: k, type: int}]}\n"
		if _, err := Parse("r.yaml", []byte(src)); err == nil || !strings.Contains(err.Error(), "reserved") {
			t.Errorf("field %s: %v, want it reserved", name, err)
		}
	}
}

var backticked = regexp.MustCompile("`([^`]+)`")

// docRow returns the backticked names of the second cell of the table row
// whose first cell starts with label, sorted.
func docRow(t *testing.T, readme, label string) []string {
	t.Helper()
	for _, l := range strings.Split(readme, "\n") {
		cells := strings.Split(l, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), label) {
			continue
		}
		var names []string
		for _, m := range backticked.FindAllStringSubmatch(cells[2], -1) {
			names = append(names, m[1])
		}
		return slices.Sorted(slices.Values(names))
	}
	t.Fatalf("schema/README.md has no table row starting %q", label)
	return nil
}
