package every

import (
	"fmt"
	"testing"
)

// TestRefs: every bytes shape (a field, list and map elements, lists of
// lists, an omitempty field) with values below, at and above msgpx.RefMin,
// alone and side by side: MarshalMsgRefs spliced is MarshalMsg's encoding
// byte for byte, and the round trips hold (roundTrip's checkRefs).
func TestRefs(t *testing.T) {
	for _, n := range refSizes {
		v := refBytes(n)
		out := leftOut(n) // values left out per use of v
		s := &Scalars{Fbytes: v, Fstring: "s"}
		exactRefs(t, fmt.Sprintf("Scalars %d", n), s, out)
		full := maxScalars()
		full.Fbytes = v
		roundTrip(t, fmt.Sprintf("max Scalars %d", n), full, false)
		c := &Composites{
			Bytes:         [][]byte{v, {1}, v, refBytes(2 * n)},
			ByteMap:       map[string][]byte{"a": v},
			BytesListMap:  map[string][][]byte{"b": {v, {2}}},
			ListListBytes: [][][]byte{{{1}, v}, {v}},
			Blob:          []byte{3},
		}
		exactRefs(t, fmt.Sprintf("Composites %d", n), c, 6*out+1) // 2*n is always left out
		full2 := fullComposites()
		full2.Bytes, full2.ByteMap, full2.BytesListMap, full2.ListListBytes = c.Bytes, map[string][]byte{"a": v, "b": {}}, c.BytesListMap, c.ListListBytes
		roundTrip(t, fmt.Sprintf("full Composites %d", n), full2, false)
		exactRefs(t, fmt.Sprintf("Omitted %d", n), &Omitted{B: v}, out)
		roundTrip(t, fmt.Sprintf("Omitted %d", n), &Omitted{B: v}, true)
	}
}
