package exitcode

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/mgmtgen/mgmtgen/runtime/status"
)

func TestForCode(t *testing.T) {
	want := map[status.Code]int{
		status.OK: 0, status.Canceled: 65, status.Unknown: 1, status.InvalidArgument: 67,
		status.DeadlineExceeded: 68, status.NotFound: 69, status.AlreadyExists: 70,
		status.PermissionDenied: 71, status.ResourceExhausted: 72, status.FailedPrecondition: 73,
		status.Aborted: 74, status.OutOfRange: 75, status.Unimplemented: 76, status.Internal: 77,
		status.Unavailable: 78, status.DataLoss: 79, status.Unauthenticated: 80,
		17: 1, 1 << 31: 1,
	}
	for c, w := range want {
		if got := ForCode(c); got != w {
			t.Errorf("ForCode(%v) = %d, want %d", c, got, w)
		}
	}
	if For(nil) != 0 || For(errors.New("x")) != Failed ||
		For(fmt.Errorf("stop web: %w", status.Errorf(status.NotFound, "unknown process"))) != 69 ||
		For(fmt.Errorf("list: %w", context.DeadlineExceeded)) != 68 {
		t.Error("For does not follow CodeOf")
	}
}
