package msgjson

import (
	"encoding/json"
	"testing"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
)

// FuzzDecode: Decode never panics on peer bytes, for every struct of
// schema/mgmt.yaml and a schema with every kind; what it accepts is valid
// JSON that Encode takes back (for enum-free structs).
func FuzzDecode(f *testing.F) {
	for _, vals := range mgmtValues() {
		for _, v := range vals {
			b, _ := v.MarshalMsg(nil)
			f.Add(b)
		}
	}
	f.Add([]byte{0xc0})
	f.Add([]byte{0x81, 0xa1, 'p', 0x81, 0xa1, 'p', 0xc0})
	file := mgmtFile(f)
	all := kinds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, s := range append(file.Structs, all) {
			js, err := Decode(s, b, Options{})
			if err != nil {
				continue
			}
			if !json.Valid(js) {
				t.Fatalf("%s: invalid JSON %q", s.Name, js)
			}
			if s == all {
				continue // its enums take any value off the wire, only known ones from JSON
			}
			if _, err := Encode(s, js, Options{}); err != nil {
				t.Fatalf("%s: Encode(Decode(b)) = %v for %s", s.Name, err, js)
			}
		}
		var gen mgmt.ListResponsePayload
		if rest, err := gen.UnmarshalMsg(b); err == nil && len(rest) == 0 {
			if _, err := Decode(file.Struct("ListResponsePayload"), b, Options{}); err != nil {
				t.Fatalf("the generated decoder reads % x, Decode fails: %v", b, err)
			}
		}
	})
}
