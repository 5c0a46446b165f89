//go:build !linux

package supervisor

import "syscall"

// childAttr puts a child in its own process group.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// descendants is not implemented on this platform: only the process group
// is signalled.
func descendants(root int, marker []byte, also []int) []int { return nil }
