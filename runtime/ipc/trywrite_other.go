//go:build !unix

package ipc

import (
	"io"
	"time"
)

// tryWriter writes to a socket without waiting (see trywrite_unix.go);
// elsewhere every write arms its deadline.
type tryWriter interface {
	writeArmed(b []byte, d time.Duration) error
	writevArmed(v [][]byte, d time.Duration) error
}

func newTryWriter(io.Writer) tryWriter { return nil }
