package schemadoc

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

func loadMgmt(t *testing.T) *schema.File {
	t.Helper()
	f, err := schema.Load("../../schema/mgmt.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestDescribeMgmt: every call, message and field of schema/mgmt.yaml is in
// the description, with its id, key and effective limit.
func TestDescribeMgmt(t *testing.T) {
	f := loadMgmt(t)
	p := Describe(f)
	if len(p.Calls) != len(f.Calls) || len(p.Messages) != len(f.Messages) || len(p.Structs) != len(f.Structs) {
		t.Fatalf("described %d calls, %d messages, %d structs; schema has %d, %d, %d",
			len(p.Calls), len(p.Messages), len(p.Structs), len(f.Calls), len(f.Messages), len(f.Structs))
	}
	logs, err := p.Lookup("Logs")
	if err != nil {
		t.Fatal(err)
	}
	want := Call{Name: "Logs", Kind: "stream", Doc: f.Call("Logs").Text, Request: "LogsRequest", RequestID: 0xA4,
		Stream: "LogsStream", AnswerID: 0xA5, LastWhen: "EOF", Access: "read"}
	if logs != want {
		t.Errorf("Logs = %+v, want %+v", logs, want)
	}
	entry, _ := p.Lookup("ListEntry")
	if id := entry.(Struct).Fields[0]; id.Key != "id" || id.Type != "string" || id.MaxLen != 4096 {
		t.Errorf("ListEntry.ID = %+v", id)
	}
	var text bytes.Buffer
	if err := WriteText(&text, p); err != nil {
		t.Fatal(err)
	}
	for _, m := range f.Messages {
		if !strings.Contains(text.String(), m.Name) {
			t.Errorf("text lacks message %s", m.Name)
		}
	}
	// Each call's access level, in the text, the JSON and the Markdown.
	for _, want := range []string{
		"  Stop    unary   StopRequest (0xa9) -> StatusResponse (0xa3), error text in Err, access admin\n",
		"  Logs    stream  LogsRequest (0xa4) -> stream of LogsStream (0xa5), last frame has EOF true, access read\n",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	js, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `"access":[{"name":"read","doc":`) || !strings.Contains(string(js), `"error_field":"Err","access":"admin"}`) {
		t.Errorf("JSON lacks the access levels: %s", js)
	}
	md := string(Markdown(f))
	if !strings.Contains(md, "| [Stop](#stop) | unary | StopRequest (0xa9) | StatusResponse (0xa3) | admin |\n") ||
		!strings.Contains(md, "## Access\n") || !strings.Contains(md, "- `admin`: Change what runs.\n") {
		t.Errorf("Markdown lacks the access levels:\n%s", md)
	}
}

// TestMarkdownDeterministic: two parses of the same schema give the same
// bytes, and the reference names its source, every call and message id.
func TestMarkdownDeterministic(t *testing.T) {
	a, b := Markdown(loadMgmt(t)), Markdown(loadMgmt(t))
	if !bytes.Equal(a, b) {
		t.Fatal("Markdown differs between two runs")
	}
	// The schema is named as generated Go names it ("// source:
	// schema/mgmt.yaml"), not by the path it was loaded from.
	for _, s := range []string{"<!-- source: schema/mgmt.yaml -->\n", "### Logs", "the frame with `EOF` true is the last", "| 0xa9 |", "`pids`"} {
		if !bytes.Contains(a, []byte(s)) {
			t.Errorf("reference lacks %q", s)
		}
	}
}
