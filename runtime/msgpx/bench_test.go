package msgpx

import (
	"math"
	"testing"

	"github.com/tinylib/msgp/msgp"
)

// BenchmarkSmallTotal compares the first chunk's scan with msgp.Skip on a
// map of 1000 strings.
func BenchmarkSmallTotal(b *testing.B) {
	msg := message(repeat(1000, 20), 0, 0)
	want := smallTotal(msg, math.MaxInt)
	b.Run("impl=smallTotal", func(b *testing.B) {
		for b.Loop() {
			if smallTotal(msg, math.MaxInt) != want {
				b.Fatal("wrong total")
			}
		}
	})
	b.Run("impl=msgp.Skip", func(b *testing.B) {
		for b.Loop() {
			if rest, err := msgp.Skip(msg); err != nil || len(rest) != 0 {
				b.Fatal("wrong end")
			}
		}
	})
}

// BenchmarkStrings decodes the 1000 strings of a message with an arena and
// with one allocation per string.
func BenchmarkStrings(b *testing.B) {
	msg := message(repeat(1000, 20), 0, 0)
	b.Run("impl=arena", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			a := NewArena(msg)
			readStrings(msg, &a)
		}
	})
	b.Run("impl=msgp", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n, o, _ := msgp.ReadMapHeaderBytes(msg)
			for range n - 1 {
				_, o, _ = msgp.ReadMapKeyZC(o)
				sink, o, _ = msgp.ReadStringBytes(o)
			}
		}
	})
}
