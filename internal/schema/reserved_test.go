package schema

import (
	"slices"
	"testing"
)

// TestReserved: the reserved section reaches the model, and a schema that
// retires what it no longer declares is valid.
func TestReserved(t *testing.T) {
	f, err := Parse("r.yaml", []byte(`
version: 1
package: r
ids: {min: 0x10, max: 0x1F}
structs:
  P:
    fields:
      - {name: A, key: a, type: string}
messages:
  Ping: {id: 0x10, payload: P}
reserved:
  ids: [0x11, 0x1F]
  keys:
    P: [b, c]
    Deleted: [k]
`))
	if err != nil {
		t.Fatal(err)
	}
	r := f.Reserved
	if !slices.Equal(r.IDs, []uint8{0x11, 0x1F}) || !r.HasID(0x11) || r.HasID(0x10) {
		t.Errorf("ids %v", r.IDs)
	}
	if !r.HasKey("P", "c") || !r.HasKey("Deleted", "k") || r.HasKey("P", "a") || r.HasKey("Deleted", "b") {
		t.Errorf("keys %+v", r.Keys)
	}
	if r.Keys[0].Pos.Line != 14 {
		t.Errorf("P's position %v, want line 14", r.Keys[0].Pos)
	}
}
