package codegen

import (
	"reflect"
	"slices"
	"testing"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

// TestArenaStructs checks which structs decode with an arena: those with a
// string or bytes anywhere inside (through structs, lists, maps and
// pointers).
func TestArenaStructs(t *testing.T) {
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"mgmt", []string{"EventsStreamPayload", "EventsSubscribePayload", "ListEntry", "ListResponsePayload",
			"LogsRequestPayload", "LogsStreamPayload", "StartRequestPayload", "StatusRequestPayload",
			"StatusResponsePayload", "StopRequestPayload"}},
		{"kvstore", []string{"ChangePayload", "GetRequestPayload", "GetResponsePayload", "Item", "PutRequestPayload",
			"PutResponsePayload", "WatchRequestPayload"}},
		{"every", []string{"Composites", "Inner", "Omitted", "Scalars", "Texts"}}, // Nothing has no strings and no bytes
	} {
		f := modelOf(t, tc.name)
		var got []string
		for name := range arenaStructs(f) {
			got = append(got, name)
		}
		slices.Sort(got)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: arena structs %v, want %v", tc.name, got, tc.want)
		}
	}
}

func modelOf(t *testing.T, name string) *schema.File {
	t.Helper()
	for _, tc := range testCases {
		if tc.name == name {
			return tc.model()
		}
	}
	t.Fatalf("no case %q", name)
	return nil
}
