package msgjson

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/internal/schema"
	"github.com/tinylib/msgp/msgp"
)

// TestEncodeErrors: every bad field is reported, at its line and column,
// with its path.
func TestEncodeErrors(t *testing.T) {
	f := mgmtFile(t)
	for _, tc := range []struct {
		strct, src, want string
	}{
		{"StatusRequestPayload", `{"ID": 5}`, `1:8: ID: want a string, got the number 5`},
		{"StatusRequestPayload", `{"Id": "x"}`, `1:2: unknown field "Id" of StatusRequestPayload (did you mean "ID"?)`},
		{"StatusRequestPayload", `{"nope": {"a": [1]}}`, `1:2: unknown field "nope" of StatusRequestPayload (fields: ID)`},
		{"StatusRequestPayload", `{"ID": "a", "id": "b"}`, `1:13: field ID given twice`},
		{"StatusRequestPayload", `["x"]`, `1:1: want an object (StatusRequestPayload), got an array`},
		{"StatusRequestPayload", `{"ID": "x"`, `1:11: invalid JSON: unexpected end of JSON input`},
		{"StatusRequestPayload", ``, `1:1: invalid JSON: empty JSON input`},
		{"StatusRequestPayload", `{"ID": "x"} {}`, `1:13: unexpected text after the request's JSON value`},
		{"LogsRequestPayload", "{\n  \"ID\": \"web\",\n  \"Stream\": 256,\n  \"Follow\": \"yes\",\n  \"Lines\": 1.5\n}",
			"3:13: Stream: 256 out of range for uint8\n4:13: Follow: want a boolean, got a string\n5:12: Lines: 1.5 is not an integer (int)"},
		{"StatusRequestPayload", `{"ID": "` + strings.Repeat("x", 4097) + `"}`, `1:2: ID: 4097 bytes, more than max_len 4096`},
		{"ListResponsePayload", `{"Entries": [{"pid": "1"}, {"Name": true}]}`,
			"1:22: Entries[0].ChildPID: want an integer (int), got a string\n1:37: Entries[1].Name: want a string, got a boolean"},
		{"LogsStreamPayload", `{"Data": "!!"}`, `1:10: Data: invalid base64 (bytes are base64 unless the bytes flag says text): illegal base64 data at input byte 0`},
	} {
		_, err := Encode(f.Struct(tc.strct), []byte(tc.src), Options{})
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s %s:\n got %v\nwant %s", tc.strct, tc.src, err, tc.want)
		}
	}
}

// TestEncodeAsGenerated: JSON with absent fields, keys by msgpack key and
// null encodes as the generated encoder encodes the same Go value.
func TestEncodeAsGenerated(t *testing.T) {
	f := mgmtFile(t)
	for _, tc := range []struct {
		src  string
		want payload
	}{
		{`{}`, &mgmt.LogsRequestPayload{}},
		{`null`, &mgmt.LogsRequestPayload{}},
		{`{"id": "web", "f": true, "Lines": 3}`, &mgmt.LogsRequestPayload{ID: "web", Follow: true, Lines: 3}},
		{`{"SinceUnixNano": -9223372036854775808}`, &mgmt.LogsRequestPayload{SinceUnixNano: math.MinInt64}},
	} {
		got, err := Encode(f.Struct("LogsRequestPayload"), []byte(tc.src), Options{})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := tc.want.MarshalMsg(nil)
		if !bytes.Equal(got, want) {
			t.Errorf("%s:\n got % x\nwant % x", tc.src, got, want)
		}
	}
}

const kindsSchema = `
version: 1
package: kinds
ids: {min: 1, max: 2}
enums:
  Level: {type: int16, values: [{name: Low, value: -1}, {name: High, value: 300}]}
  Color: {type: string, values: [{name: Red, value: red}]}
structs:
  All:
    fields:
      - {name: At, key: at, type: time}
      - {name: TTL, key: ttl, type: duration}
      - {name: L, key: l, type: Level}
      - {name: C, key: c, type: Color}
      - {name: M, key: m, type: "map[string]int32"}
      - {name: P, key: p, type: "*All"}
      - {name: F, key: f, type: float32}
      - {name: D, key: d, type: float64}
      - {name: O, key: o, type: "[]bytes", omitempty: true}
messages:
  M: {id: 1, payload: All}
`

func kinds(t testing.TB) *schema.Struct {
	t.Helper()
	f, err := schema.Parse("kinds.yaml", []byte(kindsSchema))
	if err != nil {
		t.Fatal(err)
	}
	return f.Struct("All")
}

// TestKinds: time, duration, enums, maps, pointers and floats round-trip,
// and encode as msgp's own Append functions write them.
func TestKinds(t *testing.T) {
	s := kinds(t)
	src := `{"At":"2026-12-01T20:00:00.123456789Z","TTL":"1m30s","L":"High","C":"red","M":{"b":2,"a":-1},` +
		`"P":{"L":-1,"F":"NaN"},"F":1.5,"D":"-Inf","O":["aGk="]}`
	wire, err := Encode(s, []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 20, 0, 0, 123456789, time.UTC)
	if !bytes.Contains(wire, msgp.AppendTime(nil, at)) || !bytes.Contains(wire, msgp.AppendDuration(nil, 90*time.Second)) ||
		!bytes.Contains(wire, msgp.AppendInt64(nil, 300)) || !bytes.Contains(wire, msgp.AppendFloat32(nil, 1.5)) {
		t.Errorf("encoding lacks msgp's forms: % x", wire)
	}
	js, err := Decode(s, wire, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"At":"2026-12-01T20:00:00.123456789Z","TTL":"1m30s","L":"High","C":"red","M":{"a":-1,"b":2},` +
		`"P":{"At":"0001-01-01T00:00:00Z","TTL":"0s","L":"Low","C":"","M":null,"P":null,"F":"NaN","D":0,"O":null},` +
		`"F":1.5,"D":"-Inf","O":["aGk="]}`
	if string(js) != want {
		t.Errorf("got  %s\nwant %s", js, want)
	}
	for src, msg := range map[string]string{
		`{"L":"Mid"}`:         `1:6: L: "Mid" is not a constant of Level (one of Low, High)`,
		`{"L":40000}`:         `1:6: L: 40000 out of range for int16`,
		`{"C":"blue"}`:        `1:6: C: "blue" is not a value of Color (one of "red")`,
		`{"TTL":"soon"}`:      `1:8: TTL: invalid duration "soon": want e.g. "1.5s" or integer nanoseconds`,
		`{"At":"yesterday"}`:  `1:7: At: invalid time "yesterday": want RFC 3339, e.g. "2006-01-02T15:04:05.999999999Z"`,
		`{"M":{"a":1,"a":2}}`: `1:13: M: key "a" given twice`,
		`{"F":1e39}`:          `1:6: F: number 1e+39 out of range for float32`,
	} {
		if _, err := Encode(s, []byte(src), Options{}); err == nil || err.Error() != msg {
			t.Errorf("%s:\n got %v\nwant %s", src, err, msg)
		}
	}
	// Integer durations, and deep recursion is refused, not a crash.
	if _, err := Encode(s, []byte(`{"TTL": 1500}`), Options{}); err != nil {
		t.Error(err)
	}
	deep := strings.Repeat(`{"P":`, 300) + "null" + strings.Repeat("}", 300)
	if _, err := Encode(s, []byte(deep), Options{}); err == nil || !strings.Contains(err.Error(), "nested more than 256 levels deep") {
		t.Errorf("deep JSON: %v", err)
	}
	var b []byte
	for range 300 {
		b = append(msgp.AppendString(msgp.AppendMapHeader(nil, 1), "p"), b...)
	}
	b = append(b, 0xc0)
	if _, err := Decode(s, b, Options{}); err == nil || !strings.Contains(err.Error(), "nested more than 256 levels deep") {
		t.Errorf("deep msgpack: %v", err)
	}
}
