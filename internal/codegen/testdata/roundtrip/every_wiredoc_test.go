package every

import (
	"bytes"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"
)

// valueBlock is a fenced block of docs/wire.md, "```value NAME", holding
// the hex bytes of one value as the generated encoder writes it.
var valueBlock = regexp.MustCompile("(?m)^```value ([a-z0-9-]+)\n((?:[0-9a-f]{2}(?: +|\n))+)```")

// TestWireDocValues: the values docs/wire.md shows byte by byte under
// "Types of the schema language" (time, duration, enums) are what this
// generated package writes for a field of that type, and decodes back.
// TestGeneratedCode runs it with MGMTGEN_WIRE_DOC naming docs/wire.md.
func TestWireDocValues(t *testing.T) {
	path := os.Getenv("MGMTGEN_WIRE_DOC")
	if path == "" {
		t.Fatal("MGMTGEN_WIRE_DOC is not set (internal/codegen's TestGeneratedCode sets it)")
	}
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	examples := map[string]struct {
		key string
		in  Scalars
	}{
		"time-seconds":      {"time", Scalars{Ftime: time.Date(2026, 12, 1, 22, 28, 0, 0, time.UTC)}},
		"time-nanos":        {"time", Scalars{Ftime: time.Date(2026, 12, 1, 22, 28, 0, 500_000_000, time.UTC)}},
		"time-before-1970":  {"time", Scalars{Ftime: time.Date(1969, 7, 20, 20, 17, 40, 0, time.UTC)}},
		"duration":          {"duration", Scalars{Fduration: 1500 * time.Millisecond}},
		"duration-negative": {"duration", Scalars{Fduration: -time.Second}},
		"enum-int":          {"lvl", Scalars{Level: LevelHigh}},
		"enum-string":       {"col", Scalars{Color: ColorRed}},
	}
	blocks := valueBlock.FindAllSubmatch(doc, -1)
	seen := map[string]bool{}
	for _, b := range blocks {
		name := string(b[1])
		want, err := hex.DecodeString(strings.Join(strings.Fields(string(b[2])), ""))
		if err != nil {
			t.Fatal(err)
		}
		ex, ok := examples[name]
		if !ok {
			t.Errorf("docs/wire.md shows a value %q this test does not know", name)
			continue
		}
		seen[name] = true
		full, err := ex.in.MarshalMsg(nil)
		if err != nil {
			t.Fatal(err)
		}
		got := fieldValue(t, full, ex.key)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: docs/wire.md shows % x, the generated encoder writes % x", name, want, got)
		}
		var back Scalars
		if _, err := back.UnmarshalMsg(rawMap(ex.key, want)); err != nil {
			t.Errorf("%s: the documented bytes do not decode: %v", name, err)
		} else if !back.Ftime.Equal(ex.in.Ftime) || back.Fduration != ex.in.Fduration || back.Level != ex.in.Level || back.Color != ex.in.Color {
			t.Errorf("%s: decodes to %+v", name, back)
		}
	}
	for name := range examples {
		if !seen[name] {
			t.Errorf("docs/wire.md has no ```value %s block", name)
		}
	}
}

// fieldValue is the encoded value of key in the msgpack map b.
func fieldValue(t *testing.T, b []byte, key string) []byte {
	t.Helper()
	n, b, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		var k []byte
		if k, b, err = msgp.ReadMapKeyZC(b); err != nil {
			t.Fatal(err)
		}
		rest, err := msgp.Skip(b)
		if err != nil {
			t.Fatal(err)
		}
		if string(k) == key {
			return b[:len(b)-len(rest)]
		}
		b = rest
	}
	t.Fatalf("no key %q", key)
	return nil
}
