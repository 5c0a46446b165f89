package main

import (
	"errors"

	"github.com/mgmtgen/mgmtgen/examples/procd/supervisor"
	"github.com/mgmtgen/mgmtgen/runtime/status"
)

// supervisorCodes is the status code of each supervisor error: what a
// client of an extended connection sees (status.CodeOf on its error, and
// mgmtctl's exit status). On a legacy connection only the text travels, in
// the response's Err field, unchanged.
var supervisorCodes = []struct {
	err  error
	code status.Code
}{
	{supervisor.ErrUnknownProcess, status.NotFound},
	{supervisor.ErrAlreadyRunning, status.FailedPrecondition},
	{supervisor.ErrStopping, status.FailedPrecondition},
	{supervisor.ErrInvalidStream, status.InvalidArgument},
	{supervisor.ErrFilter, status.InvalidArgument},
	{supervisor.ErrSlowFollower, status.ResourceExhausted},
	{supervisor.ErrClosed, status.Unavailable},
}

// coded is err with its status code (same text, errors.Is still sees the
// supervisor's sentinel); errors the table does not know, and context
// errors (which status.CodeOf reads as they are), are returned unchanged.
func coded(err error) error {
	if err == nil || status.CodeOf(err) != status.Unknown {
		return err
	}
	for _, c := range supervisorCodes {
		if errors.Is(err, c.err) {
			return status.Errorf(c.code, "%w", err)
		}
	}
	return err
}
