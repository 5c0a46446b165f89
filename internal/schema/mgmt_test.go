package schema

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// wireMessages is docs/wire.md's message table: id, name, payload struct.
var wireMessages = []struct {
	id      uint8
	name    string
	payload string
}{
	{0xA0, "ListRequest", ""},
	{0xA1, "ListResponse", "ListResponsePayload"},
	{0xA2, "StatusRequest", "StatusRequestPayload"},
	{0xA3, "StatusResponse", "StatusResponsePayload"},
	{0xA4, "LogsRequest", "LogsRequestPayload"},
	{0xA5, "LogsStream", "LogsStreamPayload"},
	{0xA6, "EventsSubscribe", "EventsSubscribePayload"},
	{0xA7, "EventsStream", "EventsStreamPayload"},
	{0xA8, "StartRequest", "StartRequestPayload"},
	{0xA9, "StopRequest", "StopRequestPayload"},
}

// wirePayloads is docs/wire.md's payload list: "GoField key type[,omitempty]"
// per field, in order.
var wirePayloads = map[string][]string{
	"ListEntry":              {"ID id string", "Name name string", "State state string", "ChildPID pid int", "RSS rss uint64"},
	"ListResponsePayload":    {"Entries entries []ListEntry"},
	"StatusRequestPayload":   {"ID id string"},
	"StatusResponsePayload":  {"Entry entry ListEntry", "Err err string"},
	"StartRequestPayload":    {"ID id string"},
	"StopRequestPayload":     {"ID id string"},
	"LogsRequestPayload":     {"ID id string", "Stream s uint8", "Follow f bool", "SinceUnixNano sn int64,omitempty", "Lines ln int,omitempty"},
	"LogsStreamPayload":      {"ID id string", "Stream s uint8", "Data d bytes", "EOF eof bool"},
	"EventsSubscribePayload": {"ProcessIDs pids []string", "Types types []string,omitempty"},
	"EventsStreamPayload":    {"ProcessID pid string", "Type t string", "Timestamp ts int64", "Summary sum string"},
}

// wireCalls is docs/wire.md's exchanges: "request -> answer", stream or unary,
// with the last_when / error_field fields.
var wireCalls = []string{
	"List ListRequest -> ListResponse",
	"Status StatusRequest -> StatusResponse error_field=Err",
	"Start StartRequest -> StatusResponse error_field=Err",
	"Stop StopRequest -> StatusResponse error_field=Err",
	"Logs LogsRequest => LogsStream last_when=EOF",
	"Events EventsSubscribe => EventsStream",
}

func loadMgmt(t *testing.T) *File {
	t.Helper()
	f, err := Load("../../schema/mgmt.yaml")
	if err != nil {
		t.Fatalf("schema/mgmt.yaml: %v", err)
	}
	return f
}

func TestMgmtMatchesWire(t *testing.T) {
	f := loadMgmt(t)
	if f.Package != "mgmt" || f.IDs != (IDRange{Min: 0xA0, Max: 0xAF}) {
		t.Errorf("package %q, ids %+v", f.Package, f.IDs)
	}
	if len(f.Messages) != len(wireMessages) {
		t.Errorf("%d messages, want %d", len(f.Messages), len(wireMessages))
	}
	for _, w := range wireMessages {
		m := f.Message(w.name)
		if m == nil {
			t.Errorf("message %s missing", w.name)
			continue
		}
		payload := ""
		if m.Payload != nil {
			payload = m.Payload.Name
		}
		if m.ID != w.id || payload != w.payload {
			t.Errorf("message %s = id 0x%02x payload %q, want 0x%02x %q", w.name, m.ID, payload, w.id, w.payload)
		}
	}
	if len(f.Structs) != len(wirePayloads) {
		t.Errorf("%d structs, want %d", len(f.Structs), len(wirePayloads))
	}
	for name, want := range wirePayloads {
		s := f.Struct(name)
		if s == nil {
			t.Errorf("struct %s missing", name)
			continue
		}
		var got []string
		for _, fl := range s.Fields {
			d := fmt.Sprintf("%s %s %s", fl.Name, fl.Key, fl.Type)
			if fl.OmitEmpty {
				d += ",omitempty"
			}
			got = append(got, d)
		}
		if strings.Join(got, "; ") != strings.Join(want, "; ") {
			t.Errorf("struct %s:\n got %s\nwant %s", name, strings.Join(got, "; "), strings.Join(want, "; "))
		}
	}
	checkMgmtCalls(t, f)
}

func checkMgmtCalls(t *testing.T, f *File) {
	t.Helper()
	var got []string
	for _, c := range f.Calls {
		d := c.Name + " " + c.Request.Name + " -> " + c.Answer().Name
		if c.IsStream() {
			d = strings.Replace(d, "->", "=>", 1)
		}
		if c.ErrorField != nil {
			d += " error_field=" + c.ErrorField.Name
		}
		if c.LastWhen != nil {
			d += " last_when=" + c.LastWhen.Name
		}
		got = append(got, d)
	}
	if strings.Join(got, "\n") != strings.Join(wireCalls, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wireCalls, "\n"))
	}
	if f.Errors == nil || f.Errors.Message.Name != "StatusResponse" || f.Errors.Field.Name != "Err" {
		t.Errorf("errors = %+v", f.Errors)
	}
}

// TestMgmtDocumented checks every declaration of the protocol carries a doc
// comment, and that its limits let a whole frame of log data through.
func TestMgmtDocumented(t *testing.T) {
	f := loadMgmt(t)
	if f.Doc == "" {
		t.Error("package doc missing")
	}
	for _, m := range f.Messages {
		if m.Text == "" {
			t.Errorf("message %s has no doc", m.Name)
		}
	}
	for _, c := range f.Calls {
		if c.Text == "" {
			t.Errorf("call %s has no doc", c.Name)
		}
	}
	for _, s := range f.Structs {
		if s.Text == "" {
			t.Errorf("struct %s has no doc", s.Name)
		}
		for _, fl := range s.Fields {
			if !strings.HasPrefix(fl.Text, fl.Name+" ") && !strings.HasPrefix(fl.Text, fl.Name+",") {
				t.Errorf("field %s.%s doc %q does not start with its name", s.Name, fl.Name, fl.Text)
			}
		}
	}
	if d := f.Struct("LogsStreamPayload").Field("Data"); d.MaxLen != DefaultMaxLen {
		t.Errorf("LogsStreamPayload.Data max_len = %d, want %d", d.MaxLen, DefaultMaxLen)
	}
}

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, and must
// return exactly one of a model and an error.
func FuzzParse(f *testing.F) {
	for _, path := range []string{"../../schema/mgmt.yaml", "testdata/full.yaml", "testdata/errors/recursive.yaml", "testdata/errors/unknown_types.yaml"} {
		src, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Add([]byte("version: 1\npackage: p\nids: {min: 0, max: 0}\nmessages: {M: {id: 0}}\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := Parse("fuzz.yaml", src)
		if (file == nil) == (err == nil) {
			t.Fatalf("Parse returned file %v and error %v", file, err)
		}
		if err != nil && err.Error() == "" {
			t.Fatal("empty error text")
		}
	})
}
