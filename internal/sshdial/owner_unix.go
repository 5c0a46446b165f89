package sshdial

import (
	"fmt"
	"os"
	"syscall"
)

// checkOwner refuses a control directory another user owns.
func checkOwner(fi os.FileInfo, dir string) error {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("ssh control directory %s belongs to uid %d, not to you", dir, st.Uid)
	}
	return nil
}
