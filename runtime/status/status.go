// Package status is the error model shared by the runtime's server, its
// client and the tools: a Code (gRPC's sixteen codes, same numbers) and an
// Error that carries a code, a message and optional msgpack details.
//
// A handler returns a status error to say what went wrong:
//
//	return nil, status.Errorf(status.NotFound, "process %q not found", id)
//
// On a connection that negotiated the extensions (docs/wire.md) the server
// sends the code, the message and the details in an error frame, and the
// client's error (a *client.RemoteError) carries them back: CodeOf reads the
// code, and errors.Is matches a *Error of the same code and message, so a
// package's sentinel such as ErrNotImplemented matches across the socket. A
// plain error travels as Unknown with its text. On a legacy connection only
// the text travels, in the schema's error field, and CodeOf on the client
// gives Unknown.
//
// The package imports nothing of the runtime; an error type of another
// package joins the model by having a method StatusCode() Code (the client's
// RemoteError has one).
package status

import (
	"context"
	"errors"
	"fmt"
	"strconv"
)

// Code is a status code: what kind of failure an error is, for a program to
// act on (retry, report, exit with a code). The numbers are gRPC's and travel
// on the wire; they never change.
type Code uint32

// The codes, numbered as gRPC numbers them. OK (0) is no error: CodeOf(nil).
const (
	OK                 Code = 0  // not an error
	Canceled           Code = 1  // the caller cancelled the call
	Unknown            Code = 2  // an error without a code (a plain Go error)
	InvalidArgument    Code = 3  // the request is malformed or a field is out of range
	DeadlineExceeded   Code = 4  // the call's deadline passed before it finished
	NotFound           Code = 5  // the thing named in the request does not exist
	AlreadyExists      Code = 6  // the thing to create exists already
	PermissionDenied   Code = 7  // the caller may not do this
	ResourceExhausted  Code = 8  // a limit was reached (connections, streams, bytes)
	FailedPrecondition Code = 9  // the system is not in a state to do this
	Aborted            Code = 10 // the operation was aborted (a conflict); retry at a higher level
	OutOfRange         Code = 11 // a value is past the end of what is valid
	Unimplemented      Code = 12 // the server does not implement the call
	Internal           Code = 13 // a bug on the server (a handler panicked)
	Unavailable        Code = 14 // the server cannot answer now (shutting down); retry later
	DataLoss           Code = 15 // data was lost or corrupted
	Unauthenticated    Code = 16 // the caller's identity is unknown
)

// MaxCode is the highest code this package names; a higher code from a peer
// is kept as it is and prints as "Code(N)".
const MaxCode = Unauthenticated

var codeNames = [...]string{
	OK:                 "OK",
	Canceled:           "Canceled",
	Unknown:            "Unknown",
	InvalidArgument:    "InvalidArgument",
	DeadlineExceeded:   "DeadlineExceeded",
	NotFound:           "NotFound",
	AlreadyExists:      "AlreadyExists",
	PermissionDenied:   "PermissionDenied",
	ResourceExhausted:  "ResourceExhausted",
	FailedPrecondition: "FailedPrecondition",
	Aborted:            "Aborted",
	OutOfRange:         "OutOfRange",
	Unimplemented:      "Unimplemented",
	Internal:           "Internal",
	Unavailable:        "Unavailable",
	DataLoss:           "DataLoss",
	Unauthenticated:    "Unauthenticated",
}

// String is the code's name as the constant spells it ("NotFound"), or
// "Code(N)" for a number this package does not name.
func (c Code) String() string {
	if c <= MaxCode {
		return codeNames[c]
	}
	return "Code(" + strconv.FormatUint(uint64(c), 10) + ")"
}

// ParseCode is the inverse of String: a name ("NotFound") or "Code(N)" gives
// its code; anything else is false.
func ParseCode(s string) (Code, bool) {
	for c, name := range codeNames {
		if s == name {
			return Code(c), true
		}
	}
	if len(s) > len("Code()") && s[:5] == "Code(" && s[len(s)-1] == ')' {
		n, err := strconv.ParseUint(s[5:len(s)-1], 10, 32)
		if err == nil {
			return Code(n), true
		}
	}
	return 0, false
}

// Error is an error with a status code. Details are optional msgpack bytes
// that travel with it on an extended connection (what they hold is the
// protocol's business); the receiver gets them verbatim.
type Error struct {
	Code    Code
	Message string
	Details []byte
}

// New is an *Error with code c and message msg.
func New(c Code, msg string) *Error { return &Error{Code: c, Message: msg} }

// Errorf is an *Error with code c and a message formatted as fmt.Sprintf
// formats it. Like fmt.Errorf, a %w verb makes the error unwrap to its
// operand, so errors.Is and errors.As see through it.
func Errorf(c Code, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	e := &Error{Code: c, Message: err.Error()}
	if errors.Unwrap(err) == nil {
		if _, multi := err.(interface{ Unwrap() []error }); !multi {
			return e
		}
	}
	return &wrapped{e: e, cause: err}
}

// wrapped is an *Error formatted with %w: it reads as the *Error and
// unwraps to it and to the operands.
type wrapped struct {
	e     *Error
	cause error
}

func (w *wrapped) Error() string        { return w.e.Error() }
func (w *wrapped) StatusCode() Code     { return w.e.Code }
func (w *wrapped) Is(target error) bool { return w.e.Is(target) }
func (w *wrapped) Unwrap() []error {
	if u, ok := w.cause.(interface{ Unwrap() []error }); ok {
		return append([]error{w.e}, u.Unwrap()...)
	}
	return []error{w.e, errors.Unwrap(w.cause)}
}

// Error is the message, or the code's name when the message is empty. The
// code is not repeated in the text: a program reads it with CodeOf.
func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code.String()
	}
	return e.Message
}

// StatusCode is e's code; every error type with this method takes part in
// CodeOf.
func (e *Error) StatusCode() Code { return e.Code }

// Is reports whether target is an *Error of the same code and message
// (details are not compared), so a sentinel made with New matches an error
// that crossed the socket.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Message == e.Message
}

// WithDetails is a copy of e carrying details (msgpack bytes).
func (e *Error) WithDetails(details []byte) *Error {
	c := *e
	c.Details = details
	return &c
}

// coder is an error that knows its code: *Error, and the client's
// RemoteError, which this package cannot import.
type coder interface{ StatusCode() Code }

// CodeOf is err's code: OK for nil; the code of the first error in err's
// chain (errors.As) that has a StatusCode method; Canceled or
// DeadlineExceeded for an error that is context.Canceled or
// context.DeadlineExceeded; Unknown for any other error. A non-nil error
// never gives OK: a peer's code 0 on an error is Unknown.
func CodeOf(err error) Code {
	if err == nil {
		return OK
	}
	var c coder
	if errors.As(err, &c) {
		if code := c.StatusCode(); code != OK {
			return code
		}
		return Unknown
	}
	if code := fromContext(err); code != OK {
		return code
	}
	return Unknown
}

// Convert is err as an *Error, as a server sends it: nil for nil; err itself
// when it is an *Error; otherwise the code CodeOf gives, err's whole text as
// the message and the details of an *Error in err's chain.
func Convert(err error) *Error {
	if err == nil {
		return nil
	}
	if e, ok := err.(*Error); ok {
		return e
	}
	e := &Error{Code: CodeOf(err), Message: err.Error()}
	var inner *Error
	if errors.As(err, &inner) {
		e.Details = inner.Details
	}
	return e
}

// FromContextError is the status error for a context's error:
// context.Canceled gives Canceled, context.DeadlineExceeded gives
// DeadlineExceeded (wrapped or not), nil gives nil, and any other error
// Unknown; the message is err's text.
func FromContextError(err error) *Error {
	if err == nil {
		return nil
	}
	code := fromContext(err)
	if code == OK {
		code = Unknown
	}
	return &Error{Code: code, Message: err.Error()}
}

func fromContext(err error) Code {
	switch {
	case errors.Is(err, context.Canceled):
		return Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return DeadlineExceeded
	}
	return OK
}
