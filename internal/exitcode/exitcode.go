// Package exitcode is the exit status that mgmtctl and "mgmtgen call" give
// a failed call, by its status code (runtime/status), so that a script can
// tell "no such process" from "permission denied" without reading text.
//
//	0        success
//	1        a failure without a code: a legacy server's error text (only the
//	         text travels), a plain handler error (Unknown), no connection
//	64 + N   the call failed with status code N (1..16, Unknown excepted):
//	         65 Canceled, 67 InvalidArgument, 68 DeadlineExceeded,
//	         69 NotFound, 70 AlreadyExists, 71 PermissionDenied,
//	         72 ResourceExhausted, 73 FailedPrecondition, 74 Aborted,
//	         75 OutOfRange, 76 Unimplemented, 77 Internal, 78 Unavailable,
//	         79 DataLoss, 80 Unauthenticated
//	130      interrupted (SIGINT, SIGTERM)
//
// 64+N is grpcurl's convention; 2 stays each tool's usage error, and the
// tools' other small numbers keep their documented meanings.
package exitcode

import "github.com/mgmtgen/mgmtgen/runtime/status"

const (
	// Failed is a failure without a status code.
	Failed = 1
	// StatusBase + N is the exit status of status code N.
	StatusBase = 64
	// Interrupted is the exit status after SIGINT or SIGTERM (128 + 2).
	Interrupted = 130
)

// ForCode is the exit status of a call that failed with code c: StatusBase+c
// for the named codes except Unknown, Failed for Unknown and for numbers
// this runtime does not name, 0 for OK.
func ForCode(c status.Code) int {
	switch {
	case c == status.OK:
		return 0
	case c == status.Unknown || c > status.MaxCode:
		return Failed
	}
	return StatusBase + int(c)
}

// For is the exit status of err: ForCode(status.CodeOf(err)).
func For(err error) int { return ForCode(status.CodeOf(err)) }
