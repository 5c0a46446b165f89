package supervisor

import (
	"os"
	"syscall"
	"testing"

	"go.uber.org/goleak"
)

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER from <linux/prctl.h>.
const prSetChildSubreaper = 36

func TestMain(m *testing.M) {
	// Orphaned grandchildren of supervised processes are re-parented to the
	// test binary, so tests can reap them and check that they are gone even
	// where PID 1 does not reap orphans.
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		os.Stderr.WriteString("prctl(PR_SET_CHILD_SUBREAPER): " + errno.Error() + "\n")
	}
	goleak.VerifyTestMain(m)
}
