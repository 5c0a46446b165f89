package client

import (
	"fmt"
	"net"
	"os"
	"os/user"
)

// ServerUIDError is returned by Dial when the server on the other end runs
// as a user the client does not trust: by default anyone but root and the
// client's own uid, or the uid Options.ServerUID names.
type ServerUIDError struct {
	Path string // the socket path, as the caller gave it
	UID  uint32 // the server's uid
	Want uint32 // the uid expected besides root
}

func (e *ServerUIDError) Error() string {
	trusted := "root"
	if e.Want != 0 {
		trusted = "root or " + userName(e.Want)
	}
	return fmt.Sprintf("client: %s is the socket of %s, not of %s: refusing to talk to it (set ServerUID to trust that user)",
		e.Path, userName(e.UID), trusted)
}

// userName names uid as "uid 1000 (alice)", or "uid 1000" when unknown.
func userName(uid uint32) string {
	if u, err := user.LookupId(fmt.Sprint(uid)); err == nil {
		return fmt.Sprintf("uid %d (%s)", uid, u.Username)
	}
	return fmt.Sprintf("uid %d", uid)
}

// checkServer refuses a server that runs as an untrusted uid (see
// ServerUIDError). Where the platform does not report the peer's
// credentials, it accepts. It returns the server's pid, 0 where unknown.
func checkServer(nc net.Conn, path string, opts *Options) (pid int32, err error) {
	uid, pid, ok, err := serverCred(nc)
	if err != nil {
		return 0, fmt.Errorf("client: %s: reading the server's credentials: %w", path, err)
	}
	if !ok {
		return 0, nil
	}
	want := uint32(os.Geteuid())
	if opts.ServerUID != nil {
		want = *opts.ServerUID
	}
	if uid != 0 && uid != want {
		return 0, &ServerUIDError{Path: path, UID: uid, Want: want}
	}
	return pid, nil
}
