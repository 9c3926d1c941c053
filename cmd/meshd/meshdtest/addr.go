package meshdtest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
)

// FreeAddr returns a free loopback address (127.0.0.1:port) for a process that must listen on
// the same address again after a Restart. The port lies below the kernel's ephemeral range
// (32768 and up on Linux), so that while the process is down no outgoing connection takes it as
// its source port.
func FreeAddr() (string, error) {
	for range 1000 {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(12000))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		l.Close()
		return addr, nil
	}
	return "", errors.New("no free loopback port between 20000 and 32000")
}
