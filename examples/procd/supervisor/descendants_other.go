//go:build !linux

package supervisor

// descendants is not implemented on this platform: only the process group
// is signalled.
func descendants(root int, marker []byte, also []int) []int { return nil }
