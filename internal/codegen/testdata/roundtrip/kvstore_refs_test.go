package kvctl

import (
	"fmt"
	"testing"
)

// TestRefs: structs nesting a struct with bytes (a field, list and map
// elements) with values below, at and above msgpx.RefMin: MarshalMsgRefs
// spliced is MarshalMsg's encoding byte for byte (one map entry) and the
// round trips hold (roundTrip's checkRefs).
func TestRefs(t *testing.T) {
	for _, n := range refSizes {
		out := leftOut(n)
		item := Item{Key: "k", Value: refBytes(n), Version: 9}
		exactRefs(t, fmt.Sprintf("Item %d", n), &item, out)
		exactRefs(t, fmt.Sprintf("GetResponsePayload %d", n), &GetResponsePayload{Items: map[string]*Item{"k": &item}}, out)
		exactRefs(t, fmt.Sprintf("PutRequestPayload %d", n), &PutRequestPayload{Items: []Item{item, {}, item}}, 2*out)
		exactRefs(t, fmt.Sprintf("ChangePayload %d", n), &ChangePayload{Item: item}, out)
		roundTrip(t, fmt.Sprintf("GetResponsePayload %d", n), &GetResponsePayload{Items: map[string]*Item{"k": &item, "gone": nil}}, false)
		roundTrip(t, fmt.Sprintf("PutRequestPayload %d", n), &PutRequestPayload{Items: []Item{item, {}, item}}, false)
	}
}
