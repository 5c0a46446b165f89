//go:build !linux

package server

import "net"

// peerCred is not implemented on this platform.
func peerCred(net.Conn) (PeerCred, []uint32, bool) { return PeerCred{}, nil, false }
