package status_test

import (
	"errors"
	"fmt"

	"github.com/mgmtgen/mgmtgen/runtime/status"
)

// A handler says what kind of failure it is; a caller acts on the code.
func Example() {
	lookup := func(id string) error {
		return status.Errorf(status.NotFound, "process %q not found", id)
	}
	err := fmt.Errorf("stop: %w", lookup("web"))
	switch status.CodeOf(err) {
	case status.NotFound:
		fmt.Println("no such process:", err)
	default:
		fmt.Println("failed:", err)
	}
	// Output: no such process: stop: process "web" not found
}

// A sentinel made with New matches any error of the same code and message,
// also one rebuilt from an error frame on the client.
func ExampleError_Is() {
	var ErrReadOnly = status.New(status.FailedPrecondition, "kv: read-only")
	fromTheWire := status.New(status.FailedPrecondition, "kv: read-only")
	fmt.Println(errors.Is(fromTheWire, ErrReadOnly))
	// Output: true
}
