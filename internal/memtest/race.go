//go:build race

package memtest

// RaceEnabled reports whether the race detector is on. sync.Pool then
// drops a quarter of what it is given (to expose code that relies on
// getting it back), so counts of allocations that a pool saves are
// averages with that many misses.
const RaceEnabled = true
