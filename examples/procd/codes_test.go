package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/mgmtgen/mgmtgen/examples/procd/supervisor"
	"github.com/mgmtgen/mgmtgen/runtime/status"
)

// Every supervisor error gets its code and keeps its text and its sentinel.
func TestCoded(t *testing.T) {
	for _, c := range supervisorCodes {
		err := fmt.Errorf("%w %q", c.err, "web")
		got := coded(err)
		if status.CodeOf(got) != c.code || got.Error() != err.Error() || !errors.Is(got, c.err) {
			t.Errorf("coded(%v) = %v (code %v), want code %v, same text, errors.Is the sentinel", err, got, status.CodeOf(got), c.code)
		}
	}
	for _, err := range []error{nil, io.EOF, context.Canceled, status.New(status.Aborted, "x")} {
		if got := coded(err); got != err {
			t.Errorf("coded(%v) = %v, want it unchanged", err, got)
		}
	}
	if status.CodeOf(coded(fmt.Errorf("wait: %w", context.DeadlineExceeded))) != status.DeadlineExceeded {
		t.Error("a deadline lost its code")
	}
	if got := coded(supervisor.ErrUnknownProcess); got.Error() != "unknown process" {
		t.Errorf("text changed: %q", got)
	}
}
