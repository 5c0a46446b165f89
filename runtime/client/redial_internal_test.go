package client

import (
	"testing"
	"time"
)

// TestRedialBackoffDoubles: 100 ms after the first failed redial, doubling
// with each one after it, never more than 5 s.
func TestRedialBackoffDoubles(t *testing.T) {
	want := []time.Duration{100, 200, 400, 800, 1600, 3200, 5000, 5000}
	for i, w := range want {
		if got := redialBackoff(i + 1); got != w*time.Millisecond {
			t.Errorf("after %d failures: %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
	if got := redialBackoff(1 << 20); got != RedialBackoffMax {
		t.Errorf("after a million failures: %v", got)
	}
}
