package main

import (
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// reservedDescriptors are kept out of the connection cap's reach for the state file, the
// side listeners and the process's own needs.
const reservedDescriptors = 128

// connectionCap is the most connections the API listener holds at once when the setting is 0:
// the descriptor limit less a reserve, so that no flood of connections can make accept fail
// with "too many open files" for everyone.
func connectionCap(setting int) int {
	if setting > 0 {
		return setting
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<20 {
		return 1 << 20
	}
	return max(int(rl.Cur)-reservedDescriptors, 64)
}

// capListener admits at most max connections at once, and at most perAddr from one client
// address (trusted proxies excepted: every client behind them shares their address). A
// connection beyond a cap is answered with HTTP 429 and closed at once, holding nothing.
type capListener struct {
	net.Listener
	max, perAddr int
	exempt       []netip.Prefix
	log          *slog.Logger

	mu      sync.Mutex
	total   int
	byAddr  map[netip.Addr]int
	refused atomic.Uint64
}

func newCapListener(ln net.Listener, max, perAddr int, exempt []netip.Prefix, log *slog.Logger) *capListener {
	return &capListener{Listener: ln, max: max, perAddr: perAddr, exempt: exempt, log: log, byAddr: map[netip.Addr]int{}}
}

// refusal is what a connection beyond a cap is told (spec §1.1: overload is 429).
var refusal = func() []byte {
	body := `{"errors":[{"errorType":"TooManyRequestsException","message":"Too many connections; close some and retry."}]}`
	return []byte("HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json; charset=UTF-8\r\nConnection: close\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}()

func (l *capListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := remoteAddr(c)
		if l.admit(addr) {
			return &cappedConn{Conn: c, l: l, addr: addr}, nil
		}
		// The answer fits in the socket's buffer; the deadline only guards a broken peer.
		c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		c.Write(refusal)
		c.Close()
		if n := l.refused.Add(1); n == 1 || n%1000 == 0 {
			l.log.Warn("connections refused: a connection cap is reached", "refused", n, "addr", addr, "max", l.max, "max_per_address", l.perAddr)
		}
	}
}

func (l *capListener) admit(addr netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total >= l.max {
		return false
	}
	if addr.IsValid() && !l.exempted(addr) {
		if l.byAddr[addr] >= l.perAddr {
			return false
		}
		l.byAddr[addr]++
	}
	l.total++
	return true
}

func (l *capListener) release(addr netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if n, ok := l.byAddr[addr]; ok {
		if n <= 1 {
			delete(l.byAddr, addr)
		} else {
			l.byAddr[addr] = n - 1
		}
	}
}

func (l *capListener) exempted(addr netip.Addr) bool {
	for _, p := range l.exempt {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

func remoteAddr(c net.Conn) netip.Addr {
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// cappedConn gives its place back when it is closed, once, whoever closes it (the HTTP
// server, or a WebSocket after its upgrade).
type cappedConn struct {
	net.Conn
	l    *capListener
	addr netip.Addr
	once sync.Once
}

func (c *cappedConn) Close() error {
	c.once.Do(func() { c.l.release(c.addr) })
	return c.Conn.Close()
}
