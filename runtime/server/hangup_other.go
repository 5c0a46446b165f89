//go:build !linux

package server

import "net"

// awaitHangup is not available here: a peer that fills the read buffer
// during a stream and hangs up is noticed by the stream's next write.
func awaitHangup(net.Conn) (bool, error) { return false, errNoHangup }

// discardUnread does nothing here.
func discardUnread(net.Conn, int) {}
