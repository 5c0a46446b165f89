package status_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/mgmtgen/mgmtgen/runtime/status"
)

// The numbers are gRPC's and travel on the wire: pin every one.
func TestCodeNumbersAndNames(t *testing.T) {
	want := []struct {
		c    status.Code
		n    uint32
		name string
	}{
		{status.OK, 0, "OK"},
		{status.Canceled, 1, "Canceled"},
		{status.Unknown, 2, "Unknown"},
		{status.InvalidArgument, 3, "InvalidArgument"},
		{status.DeadlineExceeded, 4, "DeadlineExceeded"},
		{status.NotFound, 5, "NotFound"},
		{status.AlreadyExists, 6, "AlreadyExists"},
		{status.PermissionDenied, 7, "PermissionDenied"},
		{status.ResourceExhausted, 8, "ResourceExhausted"},
		{status.FailedPrecondition, 9, "FailedPrecondition"},
		{status.Aborted, 10, "Aborted"},
		{status.OutOfRange, 11, "OutOfRange"},
		{status.Unimplemented, 12, "Unimplemented"},
		{status.Internal, 13, "Internal"},
		{status.Unavailable, 14, "Unavailable"},
		{status.DataLoss, 15, "DataLoss"},
		{status.Unauthenticated, 16, "Unauthenticated"},
	}
	for _, w := range want {
		if uint32(w.c) != w.n {
			t.Errorf("%s = %d, want %d", w.name, uint32(w.c), w.n)
		}
		if got := w.c.String(); got != w.name {
			t.Errorf("Code(%d).String() = %q, want %q", w.n, got, w.name)
		}
		if c, ok := status.ParseCode(w.name); !ok || c != w.c {
			t.Errorf("ParseCode(%q) = %v, %v", w.name, c, ok)
		}
	}
	if status.MaxCode != status.Unauthenticated {
		t.Errorf("MaxCode = %v", status.MaxCode)
	}
	if got := status.Code(17).String(); got != "Code(17)" {
		t.Errorf("Code(17).String() = %q", got)
	}
	if c, ok := status.ParseCode("Code(4000000000)"); !ok || c != 4000000000 {
		t.Errorf("ParseCode(Code(4000000000)) = %v, %v", c, ok)
	}
	for _, bad := range []string{"", "notfound", "Code()", "Code(x)", "Code(-1)", "Code(4294967296)", "Code(5"} {
		if c, ok := status.ParseCode(bad); ok {
			t.Errorf("ParseCode(%q) = %v, true", bad, c)
		}
	}
}

// remoteError stands for the client's RemoteError: another package's type
// with a StatusCode method, which status cannot import.
type remoteError struct {
	code status.Code
	text string
}

func (e *remoteError) Error() string           { return "Get: " + e.text }
func (e *remoteError) StatusCode() status.Code { return e.code }
func (e *remoteError) Unwrap() error           { return status.New(e.code, e.text) }

func TestCodeOf(t *testing.T) {
	nf := status.Errorf(status.NotFound, "process %q not found", "web")
	cases := []struct {
		name string
		err  error
		want status.Code
	}{
		{"nil", nil, status.OK},
		{"plain", errors.New("boom"), status.Unknown},
		{"io.EOF", io.EOF, status.Unknown},
		{"Errorf", nf, status.NotFound},
		{"New", status.New(status.Internal, "x"), status.Internal},
		{"wrapped once", fmt.Errorf("loading: %w", nf), status.NotFound},
		{"wrapped twice", fmt.Errorf("a: %w", fmt.Errorf("b: %w", nf)), status.NotFound},
		{"joined", errors.Join(errors.New("x"), nf), status.NotFound},
		{"remote", &remoteError{status.PermissionDenied, "no"}, status.PermissionDenied},
		{"wrapped remote", fmt.Errorf("call: %w", &remoteError{status.Unavailable, "down"}), status.Unavailable},
		{"remote without code (legacy)", &remoteError{0, "text only"}, status.Unknown},
		{"New with OK code", status.New(status.OK, "odd"), status.Unknown},
		{"context.Canceled", context.Canceled, status.Canceled},
		{"context.DeadlineExceeded", context.DeadlineExceeded, status.DeadlineExceeded},
		{"wrapped deadline", fmt.Errorf("Status: %w", context.DeadlineExceeded), status.DeadlineExceeded},
		{"code wins over context", status.Errorf(status.Aborted, "gave up: %w", context.Canceled), status.Aborted},
		{"peer's unnamed code", status.New(99, "future"), 99},
	}
	for _, c := range cases {
		if got := status.CodeOf(c.err); got != c.want {
			t.Errorf("%s: CodeOf(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

func TestErrorText(t *testing.T) {
	if got := status.Errorf(status.NotFound, "process %q not found", "web").Error(); got != `process "web" not found` {
		t.Errorf("Errorf text = %q", got)
	}
	if got := status.New(status.Unavailable, "").Error(); got != "Unavailable" {
		t.Errorf("empty message text = %q, want the code's name", got)
	}
}

// errors.Is matches code and message, not identity: a sentinel matches the
// error rebuilt on the other side of the socket.
func TestIsMatchesCodeAndMessage(t *testing.T) {
	sentinel := status.New(status.Unimplemented, "kv: not implemented")
	if !errors.Is(status.New(status.Unimplemented, "kv: not implemented"), sentinel) {
		t.Error("an equal *Error does not match the sentinel")
	}
	if !errors.Is(&remoteError{status.Unimplemented, "kv: not implemented"}, sentinel) {
		t.Error("a remote error of the same code and text does not match the sentinel")
	}
	if !errors.Is(fmt.Errorf("ctx: %w", sentinel), sentinel) {
		t.Error("a wrapped sentinel does not match")
	}
	if !errors.Is(sentinel.WithDetails([]byte{0x80}), sentinel) {
		t.Error("details take part in the match; they must not")
	}
	for _, other := range []error{
		status.New(status.Internal, "kv: not implemented"),
		status.New(status.Unimplemented, "kv: not implemented: Get"),
		&remoteError{0, "kv: not implemented"},
		errors.New("kv: not implemented"),
	} {
		if errors.Is(other, sentinel) {
			t.Errorf("%#v matches the sentinel", other)
		}
	}
}

// Errorf with %w keeps the operand reachable and the code on top.
func TestErrorfWraps(t *testing.T) {
	err := status.Errorf(status.Unavailable, "reading: %w", io.ErrUnexpectedEOF)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Error("errors.Is does not see the %w operand")
	}
	var se *status.Error
	if !errors.As(err, &se) || se.Code != status.Unavailable || se.Message != "reading: unexpected EOF" {
		t.Errorf("errors.As *status.Error = %#v", se)
	}
	if err.Error() != "reading: unexpected EOF" {
		t.Errorf("text = %q", err.Error())
	}
	two := status.Errorf(status.Aborted, "%w and %w", io.EOF, context.Canceled)
	if !errors.Is(two, io.EOF) || !errors.Is(two, context.Canceled) || status.CodeOf(two) != status.Aborted {
		t.Errorf("two %%w operands: %v, code %v", two, status.CodeOf(two))
	}
	if errors.Unwrap(status.Errorf(status.Internal, "no verbs")) != nil {
		t.Error("an Errorf without %w unwraps to something")
	}
}

func TestConvert(t *testing.T) {
	if status.Convert(nil) != nil {
		t.Error("Convert(nil) != nil")
	}
	e := status.New(status.NotFound, "gone").WithDetails([]byte{0x81, 0xa1, 'k', 0x01})
	if status.Convert(e) != e {
		t.Error("Convert of an *Error is not itself")
	}
	got := status.Convert(fmt.Errorf("Status %q: %w", "web", e))
	if got.Code != status.NotFound || got.Message != `Status "web": gone` || string(got.Details) != string(e.Details) {
		t.Errorf("Convert(wrapped) = %#v", got)
	}
	got = status.Convert(errors.New("disk full"))
	if got.Code != status.Unknown || got.Message != "disk full" || got.Details != nil {
		t.Errorf("Convert(plain) = %#v", got)
	}
	got = status.Convert(fmt.Errorf("waiting: %w", context.DeadlineExceeded))
	if got.Code != status.DeadlineExceeded || got.Message != "waiting: context deadline exceeded" {
		t.Errorf("Convert(deadline) = %#v", got)
	}
}

func TestFromContextError(t *testing.T) {
	if status.FromContextError(nil) != nil {
		t.Error("FromContextError(nil) != nil")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got := status.FromContextError(ctx.Err()); got.Code != status.Canceled || got.Message != "context canceled" {
		t.Errorf("canceled: %#v", got)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 0)
	defer cancel()
	<-ctx.Done()
	if got := status.FromContextError(ctx.Err()); got.Code != status.DeadlineExceeded {
		t.Errorf("deadline: %#v", got)
	}
	cause := errors.New("shutting down")
	ctx, cancelCause := context.WithCancelCause(context.Background())
	cancelCause(cause)
	if got := status.FromContextError(ctx.Err()); got.Code != status.Canceled {
		t.Errorf("canceled with a cause: %#v", got)
	}
	if got := status.FromContextError(errors.New("other")); got.Code != status.Unknown {
		t.Errorf("other: %#v", got)
	}
}

func TestWithDetailsCopies(t *testing.T) {
	e := status.New(status.OutOfRange, "past the end")
	d := e.WithDetails([]byte{1})
	if e.Details != nil || d == e || string(d.Details) != "\x01" {
		t.Errorf("WithDetails changed its receiver or lost the details: %#v %#v", e, d)
	}
}
