package msgpx

import (
	"testing"

	"github.com/tinylib/msgp/msgp"
)

// BenchmarkStrings decodes the 1000 strings of a message with an arena and
// with one allocation per string.
func BenchmarkStrings(b *testing.B) {
	msg := message(repeat(1000, 20), 0, 0)
	b.Run("impl=arena", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var a Arena
			readStrings(msg, &a)
			a.Release()
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
