package server

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// Socket activation: a service manager (systemd, or systemd-socket-activate
// on a command line) creates and binds the socket, then starts the server
// with the listening socket as an inherited file descriptor, as
// sd_listen_fds(3) describes:
//
//	LISTEN_PID      the pid the sockets are meant for: this process
//	LISTEN_FDS      how many sockets: file descriptors 3, 4, ... 3+n-1
//	LISTEN_FDNAMES  optional, their names separated by ':' (systemd's
//	                FileDescriptorName=, default the socket unit's name)
//
// ActivationListeners reads them; Options.Listeners serves them.

// listenFDsStart is SD_LISTEN_FDS_START: the first inherited socket.
const listenFDsStart = 3

// maxListenFDs bounds LISTEN_FDS, far above any real socket unit.
const maxListenFDs = 1024

// Environment variables of socket activation.
const (
	envListenPID     = "LISTEN_PID"
	envListenFDs     = "LISTEN_FDS"
	envListenFDNames = "LISTEN_FDNAMES"
)

// ErrNotUnixListener is wrapped by ActivationListeners' error for an
// inherited file descriptor that is not a listening Unix stream socket: the
// server's checks (peer credentials) are those of Unix sockets.
var ErrNotUnixListener = errors.New("server: not a listening Unix stream socket")

// ActivationListeners returns the listening sockets a service manager passed
// to this process, for Options.Listeners. It returns nil and no error when
// the process was not socket-activated (neither LISTEN_PID nor LISTEN_FDS is
// set). Otherwise it
//
//   - checks that LISTEN_PID is this process: variables a parent left
//     behind are an error, not sockets to take;
//   - unsets LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES, so that no child
//     process takes them for its own, and marks every passed descriptor
//     close-on-exec;
//   - with names, keeps the sockets whose LISTEN_FDNAMES name is one of
//     names (every name must match at least one socket) and closes the
//     others; without names, keeps them all;
//   - checks that each kept descriptor is a listening Unix stream socket.
//
// Every malformed or inconsistent variable is an error that names it; once
// the pid matched, an error closes every passed descriptor. It can succeed
// once per process: the variables are gone afterwards.
func ActivationListeners(names ...string) ([]net.Listener, error) {
	fds, err := activationFDs(os.Getpid())
	if err != nil || fds == nil {
		return nil, err
	}
	var keep []activatedFD
	for _, fd := range fds {
		if len(names) == 0 || slices.Contains(names, fd.name) {
			keep = append(keep, fd)
		} else {
			syscall.Close(fd.fd)
		}
	}
	for _, n := range names {
		if !slices.ContainsFunc(keep, func(fd activatedFD) bool { return fd.name == n }) {
			closeFDs(keep)
			return nil, fmt.Errorf("server: socket activation: no socket named %q among %s=%q", n, envListenFDNames, fdNames(fds))
		}
	}
	ls := make([]net.Listener, 0, len(keep))
	for i, fd := range keep {
		l, err := fd.listener()
		if err != nil {
			for _, l := range ls {
				l.Close()
			}
			closeFDs(keep[i:])
			return nil, err
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// activatedFD is one inherited socket and its name.
type activatedFD struct {
	fd   int
	name string
}

// activationFDs reads and unsets the variables, checks them against pid and
// marks the descriptors close-on-exec. nil, nil: not activated.
func activationFDs(pid int) ([]activatedFD, error) {
	pidStr, pidSet := os.LookupEnv(envListenPID)
	nStr, nSet := os.LookupEnv(envListenFDs)
	namesStr, namesSet := os.LookupEnv(envListenFDNames)
	os.Unsetenv(envListenPID)
	os.Unsetenv(envListenFDs)
	os.Unsetenv(envListenFDNames)
	if !pidSet && !nSet {
		if namesSet {
			return nil, fmt.Errorf("server: socket activation: %s is set without %s and %s", envListenFDNames, envListenPID, envListenFDs)
		}
		return nil, nil
	}
	if !pidSet || !nSet {
		set, unset := envListenPID, envListenFDs
		if !pidSet {
			set, unset = unset, set
		}
		return nil, fmt.Errorf("server: socket activation: %s is set but %s is not", set, unset)
	}
	n, err := strconv.Atoi(nStr)
	if err != nil || n < 1 || n > maxListenFDs {
		return nil, fmt.Errorf("server: socket activation: %s=%q: want a count of sockets from 1 to %d", envListenFDs, nStr, maxListenFDs)
	}
	// From here on the descriptors are ours to close on error, unless they
	// were meant for another process.
	want, err := strconv.Atoi(pidStr)
	if err != nil || want < 1 {
		return nil, fmt.Errorf("server: socket activation: %s=%q: want a process id", envListenPID, pidStr)
	}
	if want != pid {
		return nil, fmt.Errorf("server: socket activation: %s=%d is not this process (pid %d): the sockets were passed to another process, whose variables this one inherited", envListenPID, want, pid)
	}
	fds := make([]activatedFD, n)
	for i := range fds {
		fds[i] = activatedFD{fd: listenFDsStart + i, name: "unknown"} // sd_listen_fds_with_names's default
		syscall.CloseOnExec(fds[i].fd)
	}
	if namesSet {
		names := strings.Split(namesStr, ":")
		if len(names) != n {
			closeFDs(fds)
			return nil, fmt.Errorf("server: socket activation: %s=%q names %d sockets but %s=%d", envListenFDNames, namesStr, len(names), envListenFDs, n)
		}
		for i := range fds {
			fds[i].name = names[i]
		}
	}
	return fds, nil
}

// listener checks that fd is a listening Unix stream socket and takes it
// over as a net.Listener (closing fd itself: the listener holds a copy).
func (fd activatedFD) listener() (net.Listener, error) {
	if err := checkListeningUnix(fd.fd); err != nil {
		syscall.Close(fd.fd)
		return nil, fmt.Errorf("server: socket activation: file descriptor %d (%q): %w", fd.fd, fd.name, err)
	}
	f := os.NewFile(uintptr(fd.fd), fd.name)
	l, err := net.FileListener(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("server: socket activation: file descriptor %d (%q): %w", fd.fd, fd.name, err)
	}
	return l, nil
}

func closeFDs(fds []activatedFD) {
	for _, fd := range fds {
		syscall.Close(fd.fd)
	}
}

func fdNames(fds []activatedFD) string {
	names := make([]string, len(fds))
	for i, fd := range fds {
		names[i] = fd.name
	}
	return strings.Join(names, ":")
}
