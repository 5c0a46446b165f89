package supervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestRingBound(t *testing.T) {
	r := newRing(100)
	var all []byte
	for i := range 200 {
		line := fmt.Appendf(nil, "line %d\n", i)
		all = append(all, line...)
		r.append(int64(i), line)
		if r.size > 100 {
			t.Fatalf("size %d > 100 after %d appends", r.size, i+1)
		}
	}
	got := r.snapshot(0, 0)
	if len(got) > 100 || !bytes.HasSuffix(all, got) || len(got) < 100-len("line 199\n") {
		t.Errorf("snapshot %q is not a suffix of the output within the bound", got)
	}
	r.append(1000, bytes.Repeat([]byte("x"), 250))
	if got := r.snapshot(0, 0); len(got) != 100 || r.size != 100 || len(r.chunks) != 1 {
		t.Errorf("oversized chunk: snapshot %d bytes, size %d, %d chunks", len(got), r.size, len(r.chunks))
	}
}

func TestRingSince(t *testing.T) {
	r := newRing(1 << 10)
	r.append(10, []byte("a\n"))
	r.append(20, []byte("b\n"))
	r.append(30, []byte("c\n"))
	for _, tt := range []struct {
		since int64
		want  string
	}{{0, "a\nb\nc\n"}, {20, "b\nc\n"}, {21, "c\n"}, {31, ""}} {
		if got := string(r.snapshot(tt.since, 0)); got != tt.want {
			t.Errorf("since %d: %q, want %q", tt.since, got, tt.want)
		}
	}
	if got := r.snapshot(99, 0); got == nil {
		t.Error("empty snapshot is nil")
	}
}

func TestLastLines(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 0, "a\nb\nc\n"},
		{"a\nb\nc\n", 1, "c\n"},
		{"a\nb\nc\n", 2, "b\nc\n"},
		{"a\nb\nc\n", 3, "a\nb\nc\n"},
		{"a\nb\nc\n", 9, "a\nb\nc\n"},
		{"a\nb\nc", 1, "c"},
		{"a\nb\nc", 2, "b\nc"},
		{"a\n\n\n", 2, "\n\n"},
		{"", 3, ""},
		{"\n", 1, "\n"},
	} {
		if got := string(lastLines([]byte(tt.in), tt.n)); got != tt.want {
			t.Errorf("lastLines(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestRingFollow(t *testing.T) {
	r := newRing(1 << 10)
	r.append(1, []byte("old\n"))
	snap, f := r.follow(0, 0, 64)
	defer f.Close()
	if string(snap) != "old\n" {
		t.Errorf("snapshot %q", snap)
	}
	r.append(2, []byte("new1\n"))
	r.append(3, []byte("new2\n"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, want := range []string{"new1\n", "new2\n"} {
		got, err := f.Next(ctx)
		if err != nil || string(got) != want {
			t.Fatalf("Next = %q, %v; want %q", got, err, want)
		}
	}
	f.Close()
	f.Close()
	if _, err := f.Next(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Next after Close: %v", err)
	}
}

func TestRingSlowFollowerDisconnected(t *testing.T) {
	r := newRing(1 << 20)
	_, slow := r.follow(0, 0, 4) // "0\n1\n"
	defer slow.Close()
	_, fast := r.follow(0, 0, 4)
	defer fast.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := range 10 {
		r.append(int64(i), fmt.Appendf(nil, "%d\n", i)) // must never block
		if got, err := fast.Next(ctx); err != nil || string(got) != fmt.Sprintf("%d\n", i) {
			t.Fatalf("fast follower: %q, %v", got, err)
		}
	}
	for _, want := range []string{"0\n", "1\n"} { // queued before the disconnect
		if got, err := slow.Next(ctx); err != nil || string(got) != want {
			t.Fatalf("slow follower: %q, %v; want %q", got, err, want)
		}
	}
	if _, err := slow.Next(ctx); !errors.Is(err, ErrSlowFollower) {
		t.Errorf("slow follower: err = %v, want ErrSlowFollower", err)
	}
	if len(r.followers) != 1 {
		t.Errorf("%d followers registered, want 1", len(r.followers))
	}
}

func TestRingCloseEndsFollowers(t *testing.T) {
	r := newRing(64)
	_, f := r.follow(0, 0, 1)
	defer f.Close()
	r.close()
	if _, err := f.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("after close: %v", err)
	}
	_, late := r.follow(0, 0, 1)
	if _, err := late.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("follow after close: %v", err)
	}
}
