package gql

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"
)

// BatchingListener wraps a TCP listener so that a realtime socket with several frames queued
// writes them to the kernel in one call instead of one call per frame. On loopback and LANs
// each write costs a system call and usually a wake-up of the reader, which dominates the
// cost of fan-out once a socket falls behind; batching is what lets it catch up. Wrap the
// plain TCP listener, under any TLS listener.
func BatchingListener(ln net.Listener) net.Listener {
	return batchingListener{ln}
}

type batchingListener struct{ net.Listener }

func (l batchingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	bc := &batchConn{Conn: c}
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			bc.raw = raw
		}
	}
	return bc, nil
}

// batchKeepBytes is the largest batch buffer returned to the pool; a rare larger one is
// dropped after use.
const batchKeepBytes = 64 << 10

// batchBufs holds the batch buffers between batches, so that an idle socket holds none.
var batchBufs = sync.Pool{New: func() any { return new([]byte) }}

// batchConn holds writes back while corked and sends them together when uncorked, either
// waiting for the kernel to take them all (uncork) or handing it what it takes at once and
// keeping the rest pending (uncorkNow), which every later write sends first.
type batchConn struct {
	net.Conn
	// raw is the socket under Conn, for writes that must not wait; nil when Conn has none.
	raw syscall.RawConn

	mu      sync.Mutex
	corked  bool
	buf     *[]byte // while corked
	pending *[]byte // what uncorkNow could not write yet

	// wd is the write deadline the connection under it has. It has a lock of its own, so
	// that a deadline set to end a blocked Write is not held up behind it.
	wdMu sync.Mutex
	wd   time.Time
}

// SetWriteDeadline passes t on unless the connection already has it: gorilla/websocket sets
// the socket's deadline before every frame, mostly the same one (see armWriteDeadline), and
// each change re-arms a runtime timer.
func (c *batchConn) SetWriteDeadline(t time.Time) error {
	c.wdMu.Lock()
	defer c.wdMu.Unlock()
	if t.Equal(c.wd) {
		return nil
	}
	if err := c.Conn.SetWriteDeadline(t); err != nil {
		return err
	}
	c.wd = t
	return nil
}

// SetDeadline sets both deadlines, keeping note of the write one.
func (c *batchConn) SetDeadline(t time.Time) error {
	c.wdMu.Lock()
	defer c.wdMu.Unlock()
	if err := c.Conn.SetDeadline(t); err != nil {
		return err
	}
	c.wd = t
	return nil
}

func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked {
		*c.buf = append(*c.buf, p...)
		return len(p), nil
	}
	if err := c.flushLocked(); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// NetConn returns the connection under c, as tls.Conn's NetConn does, for listeners below
// the batching one that need to find their own connection again.
func (c *batchConn) NetConn() net.Conn { return c.Conn }

// cork starts holding writes back.
func (c *batchConn) cork() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = true
	c.buf = batchBufs.Get().(*[]byte)
}

// uncork writes what is pending and what was held back, in one call, and stops holding back.
func (c *batchConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	buf := c.buf
	c.buf = nil
	err := c.flushLocked()
	if err == nil && len(*buf) > 0 {
		_, err = c.Conn.Write(*buf)
	}
	putBatchBuf(buf)
	return err
}

// tryCorkNow starts holding writes back for uncorkNow and reports whether it did. It does not
// when the socket cannot be written without waiting, or while another write is under way —
// a control frame from another goroutine, which may be waiting for a reader that does not
// read: the caller must not wait behind it.
func (c *batchConn) tryCorkNow() bool {
	if c.raw == nil || !c.mu.TryLock() {
		return false
	}
	defer c.mu.Unlock()
	if c.pending != nil {
		return false
	}
	c.corked = true
	c.buf = batchBufs.Get().(*[]byte)
	return true
}

// uncorkNow stops holding back and writes what was held back as far as the kernel takes it
// at once, never waiting; it reports whether all of it went. What did not go stays pending
// until flush, or the next write, sends it first. Call it only after tryCorkNow.
func (c *batchConn) uncorkNow() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	buf := c.buf
	c.buf = nil
	n := c.writeNowLocked(*buf)
	if n == len(*buf) {
		putBatchBuf(buf)
		return true
	}
	*buf = (*buf)[:copy(*buf, (*buf)[n:])]
	c.pending = buf
	return false
}

// writeNowLocked writes p as far as the socket takes it without blocking and returns how
// much it took. An error, a full socket buffer or a passed deadline all stop it; the next
// blocking write meets whatever error there is.
func (c *batchConn) writeNowLocked(p []byte) int {
	n := 0
	c.raw.Write(func(fd uintptr) bool {
		for n < len(p) {
			m, err := syscall.Write(int(fd), p[n:])
			if m > 0 {
				n += m
			}
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			if err != nil || m <= 0 {
				break
			}
		}
		return true // done, whatever is left: never wait for the socket here
	})
	return n
}

// flush writes whatever is pending, waiting for the kernel to take it.
func (c *batchConn) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.flushLocked()
}

func (c *batchConn) flushLocked() error {
	if c.pending == nil {
		return nil
	}
	buf := c.pending
	c.pending = nil
	_, err := c.Conn.Write(*buf)
	putBatchBuf(buf)
	return err
}

// putBatchBuf returns a batch buffer to the pool unless it grew too large to keep.
func putBatchBuf(buf *[]byte) {
	if cap(*buf) <= batchKeepBytes {
		*buf = (*buf)[:0]
		batchBufs.Put(buf)
	}
}

// batchConnOf finds the batching connection under a socket's connection, if there is one.
func batchConnOf(nc net.Conn) *batchConn {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	bc, _ := nc.(*batchConn)
	return bc
}
