//go:build !linux

package hce

import "net"

// quickAck is Linux-only; elsewhere vpcd's APDUs may wait out delayed ACKs.
func quickAck(net.Conn) {}
