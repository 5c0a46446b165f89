package mgmt_test

import (
	"os"
	"testing"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
)

// The package embeds the schema it was generated from, byte for byte.
func TestSchemaEmbedded(t *testing.T) {
	want, err := os.ReadFile("../../schema/mgmt.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if mgmt.Schema != string(want) {
		t.Errorf("mgmt.Schema (%d bytes) differs from schema/mgmt.yaml (%d bytes): run go generate ./...", len(mgmt.Schema), len(want))
	}
}
