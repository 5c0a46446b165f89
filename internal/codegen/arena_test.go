package codegen

import (
	"reflect"
	"slices"
	"strings"
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

// TestUseArenas checks the rewrite on the shapes msgp emits: the UnmarshalMsg
// of an arena struct becomes a wrapper, nested arena structs share the arena
// (by value, in lists and behind pointers), other structs and methods stay.
func TestUseArenas(t *testing.T) {
	f := everyModel()
	body := `func (z *Texts) UnmarshalMsg(bts []byte) (o []byte, err error) {
bts, err = z.Inners[za0013].UnmarshalMsg(bts)
if err != nil {
err = msgp.WrapError(err, "Inners", za0013)
}
bts, err = za0010.UnmarshalMsg(bts)
if err != nil {
err = msgp.WrapError(err, "PtrMap", za0009)
}
func (z *Texts) DecodeMsg(dc *msgp.Reader) (err error) {
func (z *Composites) UnmarshalMsg(bts []byte) (o []byte, err error) {
bts, err = z.Inners[za0004].UnmarshalMsg(bts)
if err != nil {
err = msgp.WrapError(err, "Inners", za0004)
}`
	got := string(useArenas([]byte(body), f, arenaStructs(f)))
	for _, want := range []string{
		"func (z *Texts) UnmarshalMsg(bts []byte) ([]byte, error) {\n\treturn z.unmarshalMsgArena(bts, &msgpArena{msg: bts})\n}",
		"func (z *Texts) unmarshalMsgArena(bts []byte, a *msgpArena) (o []byte, err error) {",
		"bts, err = z.Inners[za0013].unmarshalMsgArena(bts, a)",
		"bts, err = za0010.unmarshalMsgArena(bts, a)",
		"func (z *Texts) DecodeMsg(dc *msgp.Reader) (err error) {",
		"func (z *Composites) UnmarshalMsg(bts []byte) (o []byte, err error) {\nbts, err = z.Inners[za0004].UnmarshalMsg(bts)",
		"type msgpArena struct",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if got := string(useArenas([]byte(body), f, nil)); got != body {
		t.Errorf("no arena structs: body changed:\n%s", got)
	}
}

// TestLimitStringsArena: in the UnmarshalMsg of an arena struct strings are
// read from the arena, still with the field's limit; DecodeMsg keeps
// readString.
func TestLimitStringsArena(t *testing.T) {
	f := kvModel()
	body := `func (z *GetRequestPayload) UnmarshalMsg(bts []byte) (o []byte, err error) {
z.Keys[za0001], bts, err = msgp.ReadStringBytes(bts)
if err != nil {
err = msgp.WrapError(err, "Keys", za0001)
}
func (z *GetRequestPayload) DecodeMsg(dc *msgp.Reader) (err error) {
z.Keys[za0001], err = dc.ReadString()
if err != nil {
err = msgp.WrapError(err, "Keys", za0001)
}`
	got := string(limitStrings([]byte(body), f, arenaStructs(f)))
	for _, want := range []string{
		"z.Keys[za0001], bts, err = a.readString(bts, 1024)",
		"z.Keys[za0001], err = readString(dc, 1024)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "func readStringBytes") {
		t.Errorf("unused readStringBytes helper in\n%s", got)
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
