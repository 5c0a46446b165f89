package codegen

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

// reserved are the names the generated code keeps for itself, as names
// derives them, in the rows of schema/README.md's "Naming rules" table.
func reserved(t *testing.T) (types, msgConst, callTypes, calls, fields []string) {
	n, err := newNames(&schema.File{Package: "p"})
	if err != nil {
		t.Fatal(err)
	}
	call := &schema.Call{Name: "C"}
	for _, typ := range []string{n.Sender(call), n.ClientStream(call)} {
		callTypes = append(callTypes, "<Call>"+strings.TrimPrefix(typ, call.Name))
	}
	msg := n.MsgConst(&schema.Message{Name: "M"})
	return n.Fixed(), []string{strings.TrimSuffix(msg, "M") + "<Message>"}, callTypes, n.ClientMethods(), n.StructMethods
}

// TestReservedNamesDocumented: schema/README.md's table of reserved names is
// the generator's own (names), row by row, in both directions, and Generate
// refuses a schema that uses each of them.
func TestReservedNamesDocumented(t *testing.T) {
	readme, err := os.ReadFile("../../schema/README.md")
	if err != nil {
		t.Fatal(err)
	}
	types, msgConst, callTypes, calls, fields := reserved(t)
	for _, row := range []struct {
		label string // how the README row starts
		want  []string
	}{
		{"package-level names of every generated package", types},
		{"one constant per message", msgConst},
		{"two types per call", callTypes},
		{"call names:", calls},
		{"field names:", fields},
	} {
		got := docRow(t, string(readme), row.label)
		want := slices.Sorted(slices.Values(row.want))
		if !slices.Equal(got, want) {
			t.Errorf("schema/README.md row %q lists\n  %v\nthe generator reserves\n  %v", row.label, got, want)
		}
	}
	// And the generator refuses each of them.
	refused := func(what, src string) {
		t.Helper()
		f, err := schema.Parse("r.yaml", []byte(src))
		if err != nil {
			t.Fatalf("%s: the schema must be valid: %v", what, err)
		}
		if _, err := Generate(f); err == nil || !strings.Contains(err.Error(), "r.yaml:") ||
			!strings.Contains(err.Error(), "collides") && !strings.Contains(err.Error(), "reserved") {
			t.Errorf("%s: %v, want a positioned collision", what, err)
		}
	}
	for _, name := range types {
		refused("struct "+name, "version: 1\npackage: p\nids: {min: 1, max: 2}\nstructs:\n  "+name+": {}\n")
	}
	for _, name := range calls {
		refused("call "+name, "version: 1\npackage: p\nids: {min: 1, max: 2}\nstructs:\n  E: {fields: [{name: Err, key: e, type: string}]}\n"+
			"messages: {A: {id: 1}, B: {id: 2, payload: E}}\ncalls:\n  "+name+": {request: A, response: B, error_field: Err}\n")
	}
	for _, name := range fields {
		refused("field "+name, "version: 1\npackage: p\nids: {min: 1, max: 2}\nstructs:\n  S: {fields: [{name: "+
			name+", key: k, type: int}]}\n")
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

// TestReservedMethodsAreGenerated: the methods names reserves are the
// methods the generated code declares: Client's own methods (all but one per
// call) and msgp's methods on a payload struct, read from the generated mgmt
// package.
func TestReservedMethodsAreGenerated(t *testing.T) {
	f := mgmtModel()
	files, err := Generate(f)
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, calls, fields := reserved(t)
	methods := map[string][]string{} // receiver type -> methods
	for _, out := range files {
		file, err := parser.ParseFile(token.NewFileSet(), out.Name, out.Content, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv != nil && fd.Name.IsExported() {
				recv := fd.Recv.List[0].Type
				if star, ok := recv.(*ast.StarExpr); ok {
					recv = star.X
				}
				name := recv.(*ast.Ident).Name
				methods[name] = append(methods[name], fd.Name.Name)
			}
		}
	}
	var own []string
	for _, m := range methods["Client"] {
		if !slices.ContainsFunc(f.Calls, func(c *schema.Call) bool { return c.Name == m }) {
			own = append(own, m)
		}
	}
	if got, want := slices.Sorted(slices.Values(own)), slices.Sorted(slices.Values(calls)); !slices.Equal(got, want) {
		t.Errorf("Client's own methods %v, names reserves %v", got, want)
	}
	// A struct holding bytes has every reserved method (MarshalMsgRefs
	// only such a struct); one without has them but MarshalMsgRefs.
	if got, want := slices.Sorted(slices.Values(methods["LogsStreamPayload"])), slices.Sorted(slices.Values(fields)); !slices.Equal(got, want) {
		t.Errorf("LogsStreamPayload's methods %v, names reserves %v", got, want)
	}
	noRefs := slices.DeleteFunc(slices.Clone(fields), func(m string) bool { return m == "MarshalMsgRefs" })
	if got, want := slices.Sorted(slices.Values(methods["ListEntry"])), slices.Sorted(slices.Values(noRefs)); !slices.Equal(got, want) {
		t.Errorf("ListEntry's methods %v, want %v", got, want)
	}
}
