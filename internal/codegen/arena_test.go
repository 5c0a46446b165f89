package codegen

import (
	"reflect"
	"slices"
	"testing"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

// TestArenaStructs checks which structs decode with a string arena: no bytes
// anywhere inside (through structs, lists, maps and pointers), some string.
func TestArenaStructs(t *testing.T) {
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"mgmt", []string{"EventsStreamPayload", "EventsSubscribePayload", "ListEntry", "ListResponsePayload",
			"LogsRequestPayload", "StartRequestPayload", "StatusRequestPayload", "StatusResponsePayload",
			"StopRequestPayload"}}, // not LogsStreamPayload: Data is bytes
		{"kvstore", []string{"GetRequestPayload", "PutResponsePayload", "WatchRequestPayload"}}, // Item has bytes
		{"every", []string{"Inner", "Texts"}},                                                   // Nothing has no strings; the others hold bytes
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
