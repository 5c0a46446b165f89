package client

import (
	"maps"
	"testing"
)

// pendingSet behaves as the map it replaces: whatever mix of adds and
// removals, each seq finds the call it was put with until it is removed,
// the count is exact, other skips the one call it is told to, and all
// visits every call once, whether it sits in the slot or the map.
func TestPendingSetIsAMap(t *testing.T) {
	var p pendingSet
	want := map[uint64]*call{}
	calls := make([]*call, 40)
	for i := range calls {
		calls[i] = new(call)
	}
	check := func(step string) {
		t.Helper()
		if p.len() != len(want) {
			t.Fatalf("%s: len %d, want %d", step, p.len(), len(want))
		}
		for seq := range uint64(len(calls) + 2) {
			if got := p.get(seq); got != want[seq] {
				t.Fatalf("%s: get(%d) = %p, want %p", step, seq, got, want[seq])
			}
		}
		seen := map[uint64]*call{}
		p.all(func(seq uint64, cl *call) {
			if _, dup := seen[seq]; dup {
				t.Fatalf("%s: all visits %d twice", step, seq)
			}
			seen[seq] = cl
		})
		if !maps.Equal(seen, want) {
			t.Fatalf("%s: all visits %v, want %v", step, seen, want)
		}
		for _, skip := range append([]*call{nil}, calls...) {
			o := p.other(skip)
			var any bool
			for _, cl := range want {
				any = any || cl != skip
			}
			switch {
			case o == nil && any:
				t.Fatalf("%s: other(%p) = nil with another call pending", step, skip)
			case o != nil && (o == skip || want[o.seq] != o):
				t.Fatalf("%s: other(%p) = %p, not another pending call", step, skip, o)
			}
		}
	}
	put := func(seq uint64) {
		cl := calls[seq]
		cl.seq = seq
		p.put(seq, cl)
		want[seq] = cl
	}
	del := func(seq uint64) {
		p.del(seq)
		delete(want, seq)
	}
	check("empty")
	put(1)
	check("one")
	del(1)
	check("none again")
	put(0) // the hello's seq
	put(2)
	put(3)
	check("three")
	del(0) // the slot's call goes, the map's stay
	check("slot emptied")
	put(4) // takes the slot again
	check("slot refilled")
	del(3)
	del(9) // absent: nothing changes
	check("map shrunk")
	for seq := uint64(5); seq < uint64(len(calls)); seq++ {
		put(seq)
	}
	check("many")
	for seq := uint64(2); seq < uint64(len(calls)); seq += 3 {
		del(seq)
	}
	check("some gone")
	p.clear()
	clear(want)
	check("cleared")
	put(7)
	check("after clear")
}
