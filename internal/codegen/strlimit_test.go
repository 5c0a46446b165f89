package codegen

import (
	"strings"
	"testing"
)

// TestLimitStrings checks the attribution of msgp's string reads to fields,
// on the shapes msgp emits: a plain field, a list element, an inlined nested
// struct, a map key (limited by the field's MaxLen, as the parser sets it for
// maps), and an enum's own method.
func TestLimitStrings(t *testing.T) {
	f := kvModel()
	body := `func (z *Item) UnmarshalMsg(bts []byte) (o []byte, err error) {
z.Key, bts, err = msgp.ReadStringBytes(bts)
if err != nil {
err = msgp.WrapError(err, "Key")
}
func (z *GetRequestPayload) DecodeMsg(dc *msgp.Reader) (err error) {
z.Keys[za0001], err = dc.ReadString()
if err != nil {
err = msgp.WrapError(err, "Keys", za0001)
}
func (z *ChangePayload) DecodeMsg(dc *msgp.Reader) (err error) {
z.Item.Key, err = dc.ReadString()
if err != nil {
err = msgp.WrapError(err, "Item", "Key")
}
func (z *GetResponsePayload) UnmarshalMsg(bts []byte) (o []byte, err error) {
za0001, bts, err = msgp.ReadStringBytes(bts)
if err != nil {
err = msgp.WrapError(err, "Items")
}
func (z *Consistency) DecodeMsg(dc *msgp.Reader) (err error) {
zb0001, err = dc.ReadString()
if err != nil {
err = msgp.WrapError(err)
}`
	got := string(limitStrings([]byte(body), f, nil))
	for _, want := range []string{
		"z.Key, bts, err = readStringBytes(bts, 1024)",
		"z.Keys[za0001], err = readString(dc, 1024)",
		"z.Item.Key, err = readString(dc, 1024)",
		"za0001, bts, err = readStringBytes(bts, 16777216)",
		"zb0001, err = dc.ReadString()",
		"func readStringBytes(b []byte, n uint64)",
		"func readString(dc *msgp.Reader, n uint64)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}
