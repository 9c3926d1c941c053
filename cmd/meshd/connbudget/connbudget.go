// Package connbudget holds the one budget of open connections that every listener of meshd
// draws from (the API, the console, metrics and pprof), and the descriptor limit it is sized
// by.
package connbudget

import (
	"container/list"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/smalruby/meshd/gql/access"
)

// ReservedDescriptors are kept out of the connection budget's reach for the state file, the
// embedded NATS server and the process's own needs.
const ReservedDescriptors = 128

// Cap is the connection budget for a setting: the setting when above 0, else the descriptor
// limit less a reserve, so that no flood of connections can make accept fail with "too many open files".
func Cap(setting int) int {
	if setting > 0 {
		return setting
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<20 {
		return 1 << 20
	}
	return max(int(rl.Cur)-ReservedDescriptors, 64)
}

// Budget is the one budget of open connections that every listener of meshd draws from —
// the API, the console, metrics and pprof — so that a flood on any of them cannot take the
// descriptors the others need. There is no low cap per client address: a school behind one
// NAT address may use the whole budget. When the budget is spent, a new connection takes the
// place of one that can be spared, as nginx and HAProxy reap idle keep-alives:
//
//  1. when the newcomer's address holds fewer connections than the address that holds the
//     most, that address yields: its connection idle the longest (a keep-alive between
//     requests, or one that has sent nothing yet), else its oldest request in progress — a
//     flood of idle connections or trickled bodies yields to everyone else;
//  2. otherwise, the connection idle the longest of any address (cheap to open again).
//
// A WebSocket, once upgraded, is never taken. When nothing can be spared the newcomer is
// answered 429 and closed at once, holding nothing. perAddr, when above 0, also caps each
// address. Trusted proxies are exempt from both per-address rules: every client behind them
// shares their address, and a connection is admitted before any request on it names the
// client it forwards (the API counts that client by its forwarded address, with the same
// access.Proxies). An IPv6 client counts by its /64, which one host usually holds whole.
type Budget struct {
	max, perAddr int
	proxies      access.Proxies
	log          *slog.Logger

	mu      sync.Mutex
	total   int
	idle    list.List // of *budgetConn idle or new, of every address, the longest idle first
	holders map[netip.Addr]*holder

	refused, reapedIdle, reapedBusy atomic.Uint64
}

// holder is what one client address holds. Its lists hold *budgetConn, the oldest first.
type holder struct {
	n          int
	idle, busy list.List
}

// New is a budget of max connections, at most perAddr (when above 0) from one client address
// that is not one of proxies.
func New(max, perAddr int, proxies access.Proxies, log *slog.Logger) *Budget {
	return &Budget{max: max, perAddr: perAddr, proxies: proxies, log: log, holders: map[netip.Addr]*holder{}}
}

// Listen wraps ln so that its connections draw from the budget; its server must report
// their states to Track.
func (b *Budget) Listen(ln net.Listener) net.Listener { return &budgetListener{ln, b} }

// Stats are a budget's numbers.
type Stats struct {
	// Open is the number of connections open now, Max the budget.
	Open, Max int
	// Refused counts the connections answered 429 because none could be spared; ReapedIdle and
	// ReapedBusy those closed to make room, idle or with a request in progress.
	Refused, ReapedIdle, ReapedBusy uint64
}

// Stats returns the budget's numbers now.
func (b *Budget) Stats() Stats {
	b.mu.Lock()
	open := b.total
	b.mu.Unlock()
	return Stats{Open: open, Max: b.max, Refused: b.refused.Load(), ReapedIdle: b.reapedIdle.Load(), ReapedBusy: b.reapedBusy.Load()}
}

// refusal is what a connection beyond the budget is told (spec §1.1: overload is 429).
var refusal = func() []byte {
	body := `{"errors":[{"errorType":"TooManyRequestsException","message":"Too many connections; close some and retry."}]}`
	return []byte("HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json; charset=UTF-8\r\nConnection: close\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}()

type budgetListener struct {
	net.Listener
	b *Budget
}

func (l *budgetListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr, trusted := l.b.proxies.Peer(c.RemoteAddr().String())
		if bc := l.b.admit(c, addr, trusted); bc != nil {
			return bc, nil
		}
		// The answer fits in the socket's buffer; the deadline only guards a broken peer.
		c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		c.Write(refusal)
		c.Close()
		if n := l.b.refused.Add(1); n == 1 || n%1000 == 0 {
			l.b.log.Warn("connections refused: the connection budget is spent and none can be spared", "refused", n, "addr", addr, "max", l.b.max, "max_per_address", l.b.perAddr)
		}
	}
}

// admit gives c, from addr (a trusted proxy or not), a place in the budget, making room if
// it must, or returns nil.
func (b *Budget) admit(c net.Conn, addr netip.Addr, trusted bool) *budgetConn {
	bc := &budgetConn{Conn: c, b: b}
	var reaped []*budgetConn
	defer func() {
		for _, r := range reaped {
			r.Conn.Close()
		}
	}()
	b.mu.Lock()
	defer b.mu.Unlock()
	if addr.IsValid() && !trusted {
		bc.key = access.Holder(addr)
		bc.h = b.holders[bc.key]
		if bc.h != nil && b.perAddr > 0 && bc.h.n >= b.perAddr {
			return nil
		}
	}
	for b.total >= b.max {
		v := b.spare(bc.h)
		if v == nil {
			return nil
		}
		b.detach(v)
		reaped = append(reaped, v)
	}
	if bc.key.IsValid() && bc.h == nil {
		bc.h = &holder{}
		b.holders[bc.key] = bc.h
	}
	if bc.h != nil {
		bc.h.n++
	}
	b.total++
	bc.enlist(false)
	return bc
}

// spare picks the connection a newcomer whose address holds what h holds may take the place
// of, and counts it; nil when none can be spared.
func (b *Budget) spare(h *holder) *budgetConn {
	mine := 0
	if h != nil {
		mine = h.n
	}
	var most *holder
	for _, o := range b.holders {
		if most == nil || o.n > most.n {
			most = o
		}
	}
	if most != nil && most != h && most.n > mine+1 {
		if e := most.idle.Front(); e != nil {
			return b.reaped(e, &b.reapedIdle)
		}
		if e := most.busy.Front(); e != nil {
			if n := b.reapedBusy.Load() + 1; n == 1 || n%1000 == 0 {
				b.log.Warn("connection budget spent: the oldest requests of the address holding the most make room for others", "taken", n, "held", most.n)
			}
			return b.reaped(e, &b.reapedBusy)
		}
	}
	if e := b.idle.Front(); e != nil {
		if n := b.reapedIdle.Load() + 1; n == 1 || n%1000 == 0 {
			b.log.Info("connection budget spent: the connections idle the longest make room", "taken", n)
		}
		return b.reaped(e, &b.reapedIdle)
	}
	return nil
}

// reaped counts the connection of e in n and returns it.
func (b *Budget) reaped(e *list.Element, n *atomic.Uint64) *budgetConn {
	n.Add(1)
	return e.Value.(*budgetConn)
}

// detach takes c out of the budget, once.
func (b *Budget) detach(c *budgetConn) {
	if c.released {
		return
	}
	c.released = true
	b.total--
	c.unlist()
	if c.h != nil {
		if c.h.n--; c.h.n == 0 {
			delete(b.holders, c.key)
		}
	}
}

// Track follows the state of each connection an HTTP server of meshd serves: it is every
// such server's ConnState.
func (b *Budget) Track(nc net.Conn, state http.ConnState) {
	c := budgetConnOf(nc)
	if c == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if c.released {
		return
	}
	switch state {
	case http.StateActive:
		c.unlist()
		c.enlist(true)
	case http.StateIdle:
		c.unlist()
		c.enlist(false)
	case http.StateHijacked:
		c.unlist()
	case http.StateClosed:
		b.detach(c)
	}
}

// budgetConn is a connection with a place in the budget. It gives the place back when it is
// closed, once, whoever closes it (the HTTP server, a WebSocket after its upgrade, or the
// budget to make room). Its fields after Conn are guarded by the budget's mutex.
type budgetConn struct {
	net.Conn
	b   *Budget
	key netip.Addr
	h   *holder // nil for a trusted proxy
	// idle is c's element in the budget's idle list; mine its element in hl, its holder's
	// idle or busy list. Both are nil while c is in neither (upgraded, or closed).
	idle, mine *list.Element
	hl         *list.List
	released   bool
}

func (c *budgetConn) Close() error {
	c.b.mu.Lock()
	c.b.detach(c)
	c.b.mu.Unlock()
	return c.Conn.Close()
}

// enlist puts c at the back of the lists of its state: busy (a request in progress) or idle.
func (c *budgetConn) enlist(busy bool) {
	if !busy {
		c.idle = c.b.idle.PushBack(c)
	}
	if c.h == nil {
		return
	}
	c.hl = &c.h.idle
	if busy {
		c.hl = &c.h.busy
	}
	c.mine = c.hl.PushBack(c)
}

// unlist takes c out of every list it is in.
func (c *budgetConn) unlist() {
	if c.idle != nil {
		c.b.idle.Remove(c.idle)
		c.idle = nil
	}
	if c.mine != nil {
		c.hl.Remove(c.mine)
		c.mine, c.hl = nil, nil
	}
}

// budgetConnOf finds the budget's connection under what a server holds (TLS, batching).
func budgetConnOf(c net.Conn) *budgetConn {
	for {
		switch v := c.(type) {
		case *budgetConn:
			return v
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return nil
		}
	}
}
