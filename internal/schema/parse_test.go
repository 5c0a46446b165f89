package schema

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func loadFull(t *testing.T) *File {
	t.Helper()
	f, err := Load("testdata/full.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return f
}

func TestParseFileHeader(t *testing.T) {
	f := loadFull(t)
	if f.Path != "testdata/full.yaml" || f.Version != 1 || f.Package != "demo" {
		t.Errorf("header = %q %d %q", f.Path, f.Version, f.Package)
	}
	if f.Doc != "Package demo exercises every feature of the schema language." {
		t.Errorf("Doc = %q", f.Doc)
	}
	if f.IDs != (IDRange{Min: 0x10, Max: 0x1F}) {
		t.Errorf("IDs = %+v", f.IDs)
	}
	if f.Limits != (Limits{MaxLen: 4096, MaxItems: 100}) {
		t.Errorf("Limits = %+v", f.Limits)
	}
	var names []string
	for _, s := range f.Structs {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, " "); got != "Node Empty Reply Chunk" {
		t.Errorf("struct order = %s", got)
	}
	if len(f.Structs[1].Fields) != 0 {
		t.Errorf("Empty has fields: %v", f.Structs[1].Fields)
	}
}

func TestParseEnums(t *testing.T) {
	f := loadFull(t)
	lv := f.Enum("Level")
	if lv == nil || lv.Base != KindUint8 || lv.Text != "Level is a severity." || lv.Pos != (Pos{"testdata/full.yaml", 8, 3}) {
		t.Fatalf("Level = %+v", lv)
	}
	if len(lv.Values) != 2 || lv.Values[0].Name != "LevelLow" || lv.Values[0].Int != 0 ||
		lv.Values[1].Int != 0xFF || lv.Values[1].Deprecated != "use LevelLow" || lv.Values[0].Text != "LevelLow is quiet." {
		t.Errorf("Level values = %+v %+v", lv.Values[0], lv.Values[1])
	}
	c := f.Enum("Color")
	if c.Base != KindString || c.Deprecated != "Color is going away." || c.Values[0].Str != "red" || c.Values[1].Str != "" {
		t.Errorf("Color = %+v", c)
	}
}

// TestParseFieldTypes checks composed types, resolved references and the
// effective limits: the field's own, else the file's, else none for kinds
// that take no limit.
func TestParseFieldTypes(t *testing.T) {
	f := loadFull(t)
	node := f.Struct("Node")
	tests := []struct {
		field, typ       string
		maxLen, maxItems uint32
	}{
		{"Name", "string", 64, 0},
		{"Parent", "*Node", 0, 0},
		{"Kids", "[]Node", 0, 10},
		{"Index", "map[string][]*Node", 32, 7},
		{"Tags", "map[string]string", 4096, 100},
		{"Blob", "bytes", 4096, 0},
		{"Blobs", "[]bytes", 16777216, 16777216},
		{"Level", "Level", 0, 0},
		{"Color", "*Color", 4096, 0},
		{"Colors", "[]Color", 4096, 100},
		{"At", "time", 0, 0},
		{"Took", "duration", 0, 0},
		{"Ratio", "float64", 0, 0},
		{"Small", "int8", 0, 0},
		{"Count", "*uint64", 0, 0},
		{"Flags", "[][]bool", 0, 100},
	}
	if len(node.Fields) != len(tests) {
		t.Fatalf("Node has %d fields, want %d", len(node.Fields), len(tests))
	}
	for i, tt := range tests {
		fl := node.Fields[i]
		if fl.Name != tt.field || fl.Type.String() != tt.typ || fl.MaxLen != tt.maxLen || fl.MaxItems != tt.maxItems {
			t.Errorf("field %d = %s %s len=%d items=%d, want %s %s len=%d items=%d",
				i, fl.Name, fl.Type, fl.MaxLen, fl.MaxItems, tt.field, tt.typ, tt.maxLen, tt.maxItems)
		}
	}
	idx := node.Field("Index").Type
	if idx.Kind != KindMap || idx.Elem.Kind != KindList || idx.Elem.Elem.Kind != KindPointer ||
		idx.Elem.Elem.Elem.Kind != KindStruct || idx.Elem.Elem.Elem.Struct != node {
		t.Errorf("Index type tree wrong: %+v", idx)
	}
	if lv := node.Field("Level").Type; lv.Kind != KindEnum || lv.Enum != f.Enum("Level") {
		t.Errorf("Level type = %+v", lv)
	}
	name := node.Field("Name")
	if name.Key != "n" || name.Text != "Name names the node." || name.Pos != (Pos{"testdata/full.yaml", 24, 9}) {
		t.Errorf("Name = %+v", name)
	}
	if !node.Field("Tags").OmitEmpty || node.Field("Blob").OmitEmpty {
		t.Error("OmitEmpty not carried")
	}
	if d := f.Struct("Reply").Field("Root").Deprecated; d != "read Nodes instead" {
		t.Errorf("Root.Deprecated = %q", d)
	}
}

func TestParseMessagesAndCalls(t *testing.T) {
	f := loadFull(t)
	get, got := f.Message("Get"), f.Message("Got")
	if get.ID != 0x10 || get.Payload != f.Struct("Empty") || get.Text != "Get asks." || got.ID != 0x1F {
		t.Errorf("Get = %+v, Got = %+v", get, got)
	}
	if w := f.Message("Watch"); w.Payload != nil || w.ID != 0x11 {
		t.Errorf("Watch = %+v", w)
	}
	if f.MessageByID(0x12) != f.Message("Chunk") || f.MessageByID(0x1E) != nil {
		t.Error("MessageByID wrong")
	}
	fetch := f.Call("Fetch")
	if fetch.Request != get || fetch.Response != got || fetch.Stream != nil || fetch.IsStream() ||
		fetch.ErrorField != f.Struct("Reply").Field("Err") || fetch.LastWhen != nil || fetch.Text != "Fetch fetches." {
		t.Errorf("Fetch = %+v", fetch)
	}
	follow := f.Call("Follow")
	if follow.Stream != f.Message("Chunk") || follow.Response != nil || !follow.IsStream() ||
		follow.LastWhen != f.Struct("Chunk").Field("Last") || follow.Answer() != follow.Stream {
		t.Errorf("Follow = %+v", follow)
	}
	tail := f.Call("Tail")
	if tail.LastWhen != nil || tail.Deprecated != "use Follow" {
		t.Errorf("Tail = %+v", tail)
	}
	if ping := f.Call("Ping"); ping.ErrorField != f.Struct("Reply").Field("Err") || ping.Answer() != got {
		t.Errorf("Ping = %+v", ping)
	}
	if f.Errors == nil || f.Errors.Message != got || f.Errors.Field != f.Struct("Reply").Field("Err") {
		t.Errorf("Errors = %+v", f.Errors)
	}
}

func TestDefaultLimits(t *testing.T) {
	src := `version: 1
package: p
ids: {min: 0, max: 0xEF}
structs:
  S:
    fields:
      - {name: A, key: a, type: string}
      - {name: B, key: b, type: "[]int"}
      - {name: C, key: c, type: "map[string]int"}
      - {name: D, key: d, type: int}
messages:
  M: {id: 0, payload: S}
`
	f, err := Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	s := f.Struct("S")
	want := [][2]uint32{{DefaultMaxLen, 0}, {0, DefaultMaxItems}, {DefaultMaxLen, DefaultMaxItems}, {0, 0}}
	for i, w := range want {
		if got := [2]uint32{s.Fields[i].MaxLen, s.Fields[i].MaxItems}; got != w {
			t.Errorf("field %s limits = %v, want %v", s.Fields[i].Name, got, w)
		}
	}
	if f.Limits != (Limits{}) || f.Errors != nil || f.Message("M").ID != 0 {
		t.Errorf("Limits = %+v, Errors = %+v", f.Limits, f.Errors)
	}
}

// TestAllErrorsReported checks that one schema with many independent
// problems yields every one of them, sorted, in one ErrorList.
func TestAllErrorsReported(t *testing.T) {
	src := `version: 1
package: p
ids: {min: 0x10, max: 0x1F}
structs:
  S:
    fields:
      - {name: a, key: a, type: int}
      - {name: B, key: b, type: Nope}
messages:
  M: {id: 0x30, payload: S}
  N: {id: 0x11, payload: S, tpye: x}
calls:
  C: {request: M, response: Missing}
`
	_, err := Parse("p.yaml", []byte(src))
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("err = %v, want ErrorList", err)
	}
	want := []string{
		`p.yaml:7:16: field name "a" is not exported (must start with an upper-case letter)`,
		`p.yaml:8:33: unknown type "Nope"`,
		`p.yaml:10:11: message id 0x30 is outside the declared range 0x10..0x1f`,
		`p.yaml:11:29: unknown key "tpye" in message "N" (want one of id, payload, doc, deprecated)`,
		`p.yaml:13:29: response: unknown message "Missing"`,
	}
	if got := err.Error(); got != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if len(list) != len(want) || list[0].Pos != (Pos{"p.yaml", 7, 16}) || list[0].Msg != `field name "a" is not exported (must start with an upper-case letter)` {
		t.Errorf("list = %v", list)
	}
}

func TestErrorListFormatting(t *testing.T) {
	l := ErrorList{
		{Pos: Pos{"b.yaml", 1, 1}, Msg: "b"},
		{Pos: Pos{"a.yaml", 3, 0}, Msg: "no column"},
		{Pos: Pos{"a.yaml", 2, 9}, Msg: "z"},
		{Pos: Pos{"a.yaml", 2, 9}, Msg: "y"},
		{Pos: Pos{"a.yaml", 2, 10}, Msg: "x"},
	}
	err := l.Err()
	want := "a.yaml:2:9: y\na.yaml:2:9: z\na.yaml:2:10: x\na.yaml:3: no column\nb.yaml:1:1: b"
	if err == nil || err.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}
	if (ErrorList{}).Err() != nil || (ErrorList{}).Error() != "no errors" {
		t.Error("empty list")
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "schema: ") {
		t.Errorf("err = %v", err)
	}
}

func TestParseDoesNotAcceptQuotedNumbersOrYesNo(t *testing.T) {
	for _, src := range []string{
		"version: \"1\"\npackage: p\nids: {min: 0, max: 1}\n",
		"version: 1\npackage: p\nids: {min: 0, max: 1}\nstructs:\n  S: {fields: [{name: A, key: a, type: int, omitempty: yes}]}\n",
	} {
		if _, err := Parse("x.yaml", []byte(src)); err == nil {
			t.Errorf("Parse(%q) succeeded", src)
		}
	}
}

func TestIntegerForms(t *testing.T) {
	for _, v := range []string{"160", "0xA0", "0xa0", "0o240", "0b1010_0000", "+160"} {
		src := "version: 1\npackage: p\nids: {min: 0, max: 0xEF}\nmessages: {M: {id: " + v + "}}\n"
		f, err := Parse("x.yaml", []byte(src))
		if err != nil {
			t.Errorf("id %s: %v", v, err)
			continue
		}
		if id := f.Message("M").ID; id != 0xA0 {
			t.Errorf("id %s = %#x, want 0xa0", v, id)
		}
	}
}

// TestNamesThatDoNotCollide checks that names in different Go namespaces
// may be equal: a message and its payload struct, a call and its request.
func TestNamesThatDoNotCollide(t *testing.T) {
	src := `version: 1
package: p
ids: {min: 0, max: 9}
structs:
  Ping: {fields: [{name: Ping, key: p, type: string}]}
  Status: {fields: [{name: Err, key: e, type: string}]}
messages:
  Ping: {id: 1, payload: Ping}
  Status: {id: 2, payload: Status}
calls:
  Ping: {request: Ping, response: Status, error_field: Err}
`
	f, err := Parse("x.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if c := f.Call("Ping"); c.Request.Payload != f.Struct("Ping") || c.Response.Payload != f.Struct("Status") {
		t.Errorf("call = %+v", c)
	}
}
