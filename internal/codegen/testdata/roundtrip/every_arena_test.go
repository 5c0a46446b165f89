package every

// Tests of the string arena (internal/codegen/arena.go, runtime/msgpx) on Texts, which holds
// strings in every shape and no bytes, and on Inner, which Texts nests.

import (
	"errors"
	"strings"
	"testing"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/msgpx"
)

func fullTexts() *Texts {
	s := uni
	return &Texts{
		Str: uni, Strs: []string{"", uni, "x"}, StrMap: map[string]string{"": "", "k": uni},
		ListMap:  map[string][]string{"a": {"1", ""}, "": {"q"}},
		InnerMap: map[string]Inner{"x": {Name: "y", Next: &Inner{Name: "z"}}},
		PtrMap:   map[string]*Inner{"nil": nil, "v": {Name: "v", Kids: []Inner{{Name: "kid"}}}},
		PtrStr:   &s, Color: ColorBlue, Colors: []Color{ColorRed, "other"},
		Inner:  Inner{Name: "in", Next: &Inner{Name: "next", Next: &Inner{}}, Kids: []Inner{{Name: "k"}}},
		Inners: []Inner{{Name: "i"}, {}}, PtrInner: &Inner{Name: "ptr"},
		Counts: map[string]int{"one": 1}, N: 7, Short: []string{"12345678", "", "é"},
	}
}

func TestArenaRoundTrip(t *testing.T) {
	roundTrip(t, "Texts full", fullTexts(), false)
	roundTrip(t, "Texts zero", &Texts{}, false)
	roundTrip(t, "Texts empty strings", &Texts{Strs: []string{"", ""}, StrMap: map[string]string{"": ""}}, false)
}

// The decoded strings are a copy: overwriting the input changes nothing.
func TestArenaCopies(t *testing.T) {
	for _, b := range [][]byte{must(fullTexts().MarshalMsg(nil)), vm(t, fullTexts())} {
		var got Texts
		if _, err := got.UnmarshalMsg(b); err != nil {
			t.Fatal(err)
		}
		for i := range b {
			b[i] = 'X'
		}
		check(t, "after overwriting the input", fullTexts(), &got, false)
	}
}

// The strings of a message cost one allocation per chunk of the arena
// (msgpx.ChunkSize bytes of strings), and successive messages share
// chunks: over many decodes, 1000 short strings allocate the chunks they
// fill, one string or none no chunk at all (its chunk is the one earlier
// decodes left), averaged over 200 decodes.
func TestArenaAllocs(t *testing.T) {
	decodeAllocs := func(v *Texts) float64 {
		b := must(v.MarshalMsg(nil))
		var z Texts
		return testing.AllocsPerRun(200, func() {
			z = Texts{}
			if _, err := z.UnmarshalMsg(b); err != nil {
				t.Fatal(err)
			}
		})
	}
	many := make([]string, 1000)
	lens := make([]int, len(many))
	for i := range many {
		many[i] = strings.Repeat("s", i%17+1)
		lens[i] = len(many[i])
	}
	one, thousand := decodeAllocs(&Texts{Strs: many[:1]}), decodeAllocs(&Texts{Strs: many})
	if want := 1 + chunks(lens); one != 1 || thousand > float64(want) || thousand < float64(want-1) { // the slice and the chunks
		t.Errorf("allocations for 1 string: %v, for 1000: %v; want 1 and %d or %d", one, thousand, want-1, want)
	}
	if n := decodeAllocs(&Texts{Strs: make([]string, 1000)}); n != 1 { // the slice
		t.Errorf("allocations for 1000 empty strings: %v, want 1", n)
	}
	nested := &Texts{Inners: []Inner{{Name: "a", Next: &Inner{Name: "b"}}, {Name: "c"}}}
	if n := decodeAllocs(nested); n != 2 { // Inners, Next
		t.Errorf("allocations for nested structs: %v, want 2", n)
	}
}

// The arena copies only the message UnmarshalMsg decodes, not what follows.
func TestArenaBounded(t *testing.T) {
	b := must((&Texts{Str: "x"}).MarshalMsg(nil))
	b = append(b, mib...)
	var rest []byte
	n := allocatedPerRun(func() {
		var z Texts
		var err error
		if rest, err = z.UnmarshalMsg(b); err != nil || z.Str != "x" {
			t.Errorf("UnmarshalMsg: %v, Str %q", err, z.Str)
		}
	})
	if len(rest) != len(mib) || n > 1<<10 {
		t.Errorf("%d bytes left, %d allocated; want %d and a few", len(rest), n, len(mib))
	}
}

// MaxLen is checked before the arena is made: an oversized first string
// allocates nothing, and an oversized later one nothing beyond the chunk of
// the strings before it.
func TestArenaLimits(t *testing.T) {
	for name, b := range map[string][]byte{
		"Short 1 MiB":      rawMap("short", vm(t, []string{string(mib)})),
		"Short 9 bytes":    rawMap("short", vm(t, []string{"a", "123456789"})),
		"Short 2^32-1":     rawMap("Str", vm(t, "ok"), "short", []byte{0x91, 0xdb, 0xff, 0xff, 0xff, 0xff}),
		"4 items in Short": rawMap("short", vm(t, []string{"a", "b", "c", "d"})),
	} {
		var z Texts
		var err error
		n := allocatedPerRun(func() { _, err = z.UnmarshalMsg(b) })
		short := strings.HasSuffix(name, "2^32-1") && errors.Is(err, msgp.ErrShortBytes)
		if !errors.Is(err, msgp.ErrLimitExceeded) && !short {
			t.Errorf("%s: %v, want ErrLimitExceeded", name, err)
		}
		if n > 1<<10 {
			t.Errorf("%s: allocated %d bytes", name, n)
		}
	}
}

// allocatedPerRun returns the bytes f allocates on the heap, averaged over
// 100 runs (allocated alone counts the runtime's own allocations too).
func allocatedPerRun(f func()) uint64 {
	return allocated(func() {
		for range 100 {
			f()
		}
	}) / 100
}

// chunks is the number of arena chunks strings of the given lengths take
// when the message goes on for more than a chunk: a string that does not fit
// in what is left of the current chunk starts a new one.
func chunks(lens []int) int {
	n, free := 0, 0
	for _, l := range lens {
		if l > free {
			n, free = n+1, msgpx.ChunkSize
		}
		free -= l
	}
	return n
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
