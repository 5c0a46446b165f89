package kvctl

import (
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	v := uint64(7)
	item := Item{Key: "k", Value: []byte("v"), TTL: -time.Minute, Version: 9}
	roundTrip(t, "Item", &item, false)
	roundTrip(t, "GetRequestPayload", &GetRequestPayload{Keys: []string{"a"}, Consistency: ConsistencyQuorum}, false)
	roundTrip(t, "GetResponsePayload", &GetResponsePayload{Items: map[string]*Item{"k": &item, "gone": nil}}, false)
	roundTrip(t, "zero GetResponsePayload", &GetResponsePayload{}, false)
	roundTrip(t, "PutRequestPayload", &PutRequestPayload{Items: []Item{item, {}}, IfVersion: &v, Legacy: true}, false)
	roundTrip(t, "zero PutRequestPayload", &PutRequestPayload{}, false)
	roundTrip(t, "PutResponsePayload", &PutResponsePayload{Written: 3, Err: "e"}, false)
	roundTrip(t, "WatchRequestPayload", &WatchRequestPayload{Prefix: "p/"}, false)
	roundTrip(t, "ChangePayload", &ChangePayload{Item: item, Deleted: true, Done: true}, false)
	if !ConsistencyAll.Valid() || Consistency("one").Valid() || ConsistencyAny.String() != "any" {
		t.Error("enum")
	}
}
