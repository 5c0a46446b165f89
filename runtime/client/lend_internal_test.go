package client

import (
	"bytes"
	"testing"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/msgpx"
)

// place lends a frame's buffer only when it holds little but the value
// (lend.go): never one a peer padded, one with much spare room, or for a
// small value or a slice that has the room; a body read into the buffer
// given back is always either lent again or not decoded into it.
func TestPlaceLendsOnlyWhatHoldsTheValue(t *testing.T) {
	frame := func(n, pad, spare int) []byte {
		b := msgp.AppendMapHeader(make([]byte, 0, n+pad+64), 3)
		b = msgp.AppendString(b, "id")
		b = msgp.AppendString(b, "web")
		b = msgp.AppendString(b, "d")
		b = msgp.AppendBytes(b, bytes.Repeat([]byte{'x'}, n))
		b = msgp.AppendString(b, "pad")
		b = msgp.AppendBytes(b, make([]byte, pad))
		return append(make([]byte, 0, len(b)+spare), b...)
	}
	room := make([]byte, 0, 80<<10)
	for _, tc := range []struct {
		name string
		body []byte
		dst  []byte
		lent bool
	}{
		{"64 KiB, nothing to reuse", frame(64<<10, 0, 0), nil, true},
		{"64 KiB, spare room of the allocator's rounding", frame(64<<10, 0, 8<<10), nil, true},
		{"4 KiB", frame(4<<10, 0, 0), nil, true},
		{"4 KiB, a small slice", frame(4<<10, 0, 0), make([]byte, 0, 64), true},
		{"64 KiB padded by 2 KiB", frame(64<<10, 2<<10, 0), nil, false},
		{"64 KiB in a buffer grown for 1 MiB", frame(64<<10, 0, 1<<20), nil, false},
		{"1 KiB", frame(1<<10, 0, 0), nil, false},
		{"64 KiB, a slice with the room", frame(64<<10, 0, 0), room, false},
	} {
		s := &Stream{}
		dst := tc.dst
		s.place(&dst, tc.body, "d", false, nil)
		off, _, _ := msgpx.FindBin(tc.body, "d")
		switch {
		case tc.lent && (!sameArray(dst, tc.body[off:]) || len(dst) != 0 || cap(dst) != cap(tc.body)-off || !s.lentBack(dst)):
			t.Errorf("%s: not lent in place (len %d, cap %d)", tc.name, len(dst), cap(dst))
		case !tc.lent && (cap(dst) != cap(tc.dst) || s.lent != nil):
			t.Errorf("%s: lent (cap %d)", tc.name, cap(dst))
		}
	}
	// Given back and read into: lent again, or nil when the frame has no
	// value to place (the decoder must not copy within the buffer).
	s := &Stream{}
	var dst []byte
	body := frame(64<<10, 0, 0)
	s.place(&dst, body, "d", false, nil)
	lent := s.lent
	for _, tc := range []struct {
		name string
		key  string
		nil  bool
	}{{"value found", "d", false}, {"no value", "data", true}} {
		back := s.lentBack(dst)
		s.lent = nil
		s.place(&dst, body, tc.key, back, lent)
		if !back || (dst == nil) != tc.nil {
			t.Errorf("given back, %s: back %v, slice nil %v", tc.name, back, dst == nil)
		}
	}
}
