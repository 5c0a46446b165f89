package supervisor

import (
	"errors"
	"runtime"
	"strings"
	"testing"
)

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// The attack: 100 subscriptions whose filters hold 65,536 empty (or
// near-miss, or repeated) ids and types each. Each keeps a filter of the
// supervisor's own strings (at most one per configured process or event
// type) and a few KiB, not its request.
func TestSubscribeFiltersBounded(t *testing.T) {
	s := newSup(t, sh("p", "exit 0"))
	empty := make([]string, 65536)
	nearMiss := make([]string, 65536)
	same := make([]string, 65536)
	for i := range nearMiss {
		nearMiss[i] = strings.Repeat("p", 1+i%200) + "x"
		same[i] = strings.Clone("p")
	}
	const n = 100
	before := heapInUse()
	subs := make([]*Subscription, 0, 3*n)
	for range n {
		for _, f := range [][]string{empty, nearMiss, same} {
			sub, err := s.Subscribe(f, f, 1)
			if err != nil {
				t.Fatal(err)
			}
			subs = append(subs, sub)
		}
	}
	per := int64(heapInUse()-before) / int64(len(subs))
	runtime.KeepAlive(empty) // the requests stay alive while measuring: only the subscriptions count
	runtime.KeepAlive(nearMiss)
	runtime.KeepAlive(same)
	t.Logf("%d subscriptions with 65,536 ids and types each: %d bytes retained each", len(subs), per)
	if per > 4<<10 {
		t.Errorf("%d bytes retained per subscription, want at most 4 KiB", per)
	}
	for i, sub := range subs {
		want := 0
		if i%3 == 2 {
			want = 1 // "p", the supervisor's own string
		}
		if len(sub.pids.set) != want || len(sub.types.set) != 0 || sub.pids.all || sub.types.all {
			t.Fatalf("subscription %d: pids %d, types %d entries (all %v %v)", i, len(sub.pids.set), len(sub.types.set), sub.pids.all, sub.types.all)
		}
		if sub.matches(Event{ProcessID: "p", Type: EventStarted}) {
			t.Fatalf("subscription %d matches an event its types exclude", i)
		}
	}
	for _, sub := range subs {
		sub.Close()
	}
}

// Filters over the schema's limits are refused; within them they match as
// sets (both must match, unknown values never do).
func TestSubscribeFilterLimits(t *testing.T) {
	s := newSup(t, sh("p", "exit 0"), sh("q", "exit 0"))
	for _, tc := range []struct {
		pids, types []string
		want        string
	}{
		{make([]string, MaxFilterItems+1), nil, "supervisor: events filter too large: 65537 process ids, at most 65536"},
		{nil, make([]string, MaxFilterItems+1), "supervisor: events filter too large: 65537 event types, at most 65536"},
		{[]string{strings.Repeat("x", MaxFilterIDLen+1)}, nil, "supervisor: events filter too large: one of the process ids has 4097 bytes, at most 4096"},
		{nil, []string{strings.Repeat("x", MaxFilterType+1)}, "supervisor: events filter too large: one of the event types has 257 bytes, at most 256"},
	} {
		_, err := s.Subscribe(tc.pids, tc.types, 1)
		if !errors.Is(err, ErrFilter) || err.Error() != tc.want {
			t.Errorf("Subscribe: %v, want %s", err, tc.want)
		}
	}
	sub, err := s.Subscribe([]string{"p", "nope", "p"}, []string{EventStarted, "process.bogus"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for _, tc := range []struct {
		e    Event
		want bool
	}{
		{Event{ProcessID: "p", Type: EventStarted}, true},
		{Event{ProcessID: "q", Type: EventStarted}, false},
		{Event{ProcessID: "p", Type: EventStopped}, false},
		{Event{ProcessID: "nope", Type: EventStarted}, false},
	} {
		if got := sub.matches(tc.e); got != tc.want {
			t.Errorf("matches(%+v) = %v, want %v", tc.e, got, tc.want)
		}
	}
}

// BenchmarkPublish is the CPU half of the attack: one event
// published to 100 subscriptions whose filters held 65,536 ids and types
// each (empty, near-miss) costs what it costs with open filters, since each
// subscriber is two set lookups. A stop+start publishes a handful of events.
func BenchmarkPublish(b *testing.B) {
	empty := make([]string, MaxFilterItems)
	nearMiss := make([]string, MaxFilterItems)
	for i := range nearMiss {
		nearMiss[i] = strings.Repeat("p", 1+i%200) + "x"
	}
	known := func(v string) (string, bool) {
		if v == "p" {
			return "p", true
		}
		return "", false
	}
	for _, tc := range []struct {
		name string
		f    []string
	}{{"open", nil}, {"empty65536", empty}, {"nearmiss65536", nearMiss}} {
		b.Run("100subs/"+tc.name, func(b *testing.B) {
			bus := newBus()
			defer bus.close()
			for range 100 {
				pids, err := newFilter("process ids", tc.f, MaxFilterIDLen, known)
				if err != nil {
					b.Fatal(err)
				}
				types, err := newFilter("event types", tc.f, MaxFilterType, knownType)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := bus.subscribe(pids, types, 1); err != nil {
					b.Fatal(err)
				}
			}
			e := Event{ProcessID: "p", Type: EventStarted}
			b.ResetTimer()
			for range b.N {
				bus.publish(e)
			}
		})
	}
}
