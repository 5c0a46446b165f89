//go:build !unix

package ipc

import "io"

// tryWriter writes to a socket without waiting (see trywrite_unix.go);
// elsewhere every write arms its deadline.
type tryWriter interface {
	tryWrite(b []byte) (n int, done bool, err error)
}

func newTryWriter(io.Writer) tryWriter { return nil }
