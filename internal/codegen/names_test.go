package codegen

import (
	"errors"
	"strings"
	"testing"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

func TestNameCollisions(t *testing.T) {
	f := mgmtModel()
	f.Structs = append(f.Structs, &schema.Struct{Name: "MsgListRequest"}, &schema.Struct{Name: "Handler"})
	f.Enums = append(f.Enums, &schema.Enum{Name: "LogStream", Base: schema.KindUint8,
		Values: []*schema.EnumValue{{Name: "ListEntry"}}})
	_, err := Generate(f)
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{ // the schema's own declarations have positions, the added ones none
		`../../schema/mgmt.yaml:23:3: name "ListEntry" of struct collides with enum value of LogStream`,
		`../../schema/mgmt.yaml:166:3: name "MsgListRequest" of message constant of ListRequest collides with struct`,
		`codegen: name "Handler" of struct collides with generated declaration`,
	}
	if got := err.Error(); got != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
}

// TestNameCollisionPositions: with positions, collisions read like schema
// errors, at the later declaration, naming the earlier one.
func TestNameCollisionPositions(t *testing.T) {
	f := mgmtModel()
	f.Messages[0].Pos = schema.Pos{File: "m.yaml", Line: 40, Col: 3}
	f.Structs = append(f.Structs, &schema.Struct{Name: "MsgListRequest", Pos: schema.Pos{File: "m.yaml", Line: 9, Col: 3}},
		&schema.Struct{Name: "Client", Pos: schema.Pos{File: "m.yaml", Line: 12, Col: 3}})
	_, err := Generate(f)
	want := "m.yaml:12:3: name \"Client\" of struct collides with generated declaration\n" +
		"m.yaml:40:3: name \"MsgListRequest\" of message constant of ListRequest collides with struct at m.yaml:9:3"
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}

func TestDocText(t *testing.T) {
	for _, tc := range []struct {
		name, text, dep, want string
	}{
		{"Foo", "", "", "// Foo is the fallback."},
		{"Foo", "Foo is a thing.", "", "// Foo is a thing."},
		{"Foo", "is a thing.", "", "// Foo is a thing."},
		{"Foo", "A thing.", "", "// Foo: A thing."},
		{"Foo", "Foobar is not Foo.", "", "// Foo: Foobar is not Foo."},
		{"Foo", "Foo, when set, is a thing.", "", "// Foo, when set, is a thing."},
		{"Foo", "Foo_bar is not Foo.", "", "// Foo: Foo_bar is not Foo."},
		{"Foo", "Foo", "", "// Foo"},
		{"Foo", "", "use Bar.", "// Foo is the fallback.\n//\n// Deprecated: use Bar."},
		{"Foo", strings.Repeat("word ", 30), "", "// Foo" + strings.Repeat(" word", 18) + "\n// word" + strings.Repeat(" word", 11)},
	} {
		got := docText(tc.name, schema.Doc{Text: tc.text, Deprecated: tc.dep}, tc.name+" is the fallback.")
		if got != tc.want {
			t.Errorf("docText(%q, %q, %q) =\n%s\nwant\n%s", tc.name, tc.text, tc.dep, got, tc.want)
		}
	}
}

func TestFormatError(t *testing.T) {
	_, err := formatSource("x.go", []byte("package x\nfunc {"))
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Name != "x.go" || string(fe.Content) != "package x\nfunc {" {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "x.go.broken") {
		t.Errorf("message %q", err)
	}
}

// TestNoTypes: a schema of payload-less messages gives P.go only.
func TestNoTypes(t *testing.T) {
	f := &schema.File{Path: "s.yaml", Version: 1, Package: "bare", IDs: schema.IDRange{Min: 1, Max: 2},
		Messages: []*schema.Message{{Name: "Ping", ID: 1}}}
	files, err := Generate(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].Name != "bare.go" {
		t.Fatalf("got %d files", len(files))
	}
	if !strings.Contains(string(files[0].Content), "MsgPing ipc.MsgType = 0x01") {
		t.Errorf("bare.go:\n%s", files[0].Content)
	}
}

func TestPointerToPointer(t *testing.T) {
	// The schema language rejects these types; codegen still refuses them in
	// a model built by other means, so the model is built by hand.
	ptr := func(t *schema.Type) *schema.Type { return &schema.Type{Kind: schema.KindPointer, Elem: t} }
	s := &schema.Struct{Name: "S"}
	s.Fields = []*schema.Field{
		{Name: "PP", Key: "pp", Type: ptr(ptr(&schema.Type{Kind: schema.KindStruct, Struct: s})),
			Pos: schema.Pos{File: "p.yaml", Line: 7, Col: 9}},
		{Name: "LP", Key: "lp", Type: &schema.Type{Kind: schema.KindList, Elem: ptr(ptr(&schema.Type{Kind: schema.KindInt}))}},
		{Name: "PM", Key: "pm", Type: ptr(&schema.Type{Kind: schema.KindMap, Elem: &schema.Type{Kind: schema.KindInt}})},
	}
	_, err := Generate(&schema.File{Path: "p.yaml", Version: 1, Package: "p", IDs: schema.IDRange{Min: 0, Max: 1},
		Structs: []*schema.Struct{s}})
	want := "p.yaml:7:9: field S.PP: pointer to pointer is not supported\n" +
		"codegen: field S.LP: pointer to pointer is not supported\n" +
		"codegen: field S.PM: pointer to map is not supported"
	if err == nil || err.Error() != want {
		t.Errorf("got %v", err)
	}
}
