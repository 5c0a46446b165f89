//go:build unix

package sockperm

import (
	"os"
	"syscall"
)

// owner returns the uid that owns fi's file.
func owner(fi os.FileInfo) (uint32, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Uid, true
}
