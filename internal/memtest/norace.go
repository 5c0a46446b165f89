//go:build !race

package memtest

// RaceEnabled reports whether the race detector is on (see race.go).
const RaceEnabled = false
