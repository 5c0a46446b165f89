package kv

import (
	"fmt"
	"testing"
	"time"
)

// TestRefs: msgp inlines Pair (which holds bytes) into the MarshalMsg of
// Result and Change; their MarshalMsgRefs, for values below, at and above
// msgpx.RefMin, is MarshalMsg's encoding byte for byte once spliced, and
// the round trips hold.
func TestRefs(t *testing.T) {
	for _, n := range refSizes {
		out := leftOut(n)
		p := Pair{Key: "k", Value: refBytes(n), TTL: time.Second}
		exactRefs(t, fmt.Sprintf("Pair %d", n), &p, out)
		exactRefs(t, fmt.Sprintf("Result %d", n), &Result{Pair: p, Err: "e"}, out)
		exactRefs(t, fmt.Sprintf("Change %d", n), &Change{Op: OpSet, Pair: p, At: time.Unix(1, 2).UTC(), Last: true}, out)
		roundTrip(t, fmt.Sprintf("Result %d", n), &Result{Pair: p}, false)
		roundTrip(t, fmt.Sprintf("Change %d", n), &Change{Op: OpDelete, Pair: p, At: time.Unix(1, 2).UTC()}, false)
	}
}
