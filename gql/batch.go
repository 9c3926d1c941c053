package gql

import (
	"crypto/tls"
	"net"
	"sync"
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
	return &batchConn{Conn: c}, nil
}

// batchKeepBytes is the largest batch buffer returned to the pool; a rare larger one is
// dropped after use.
const batchKeepBytes = 64 << 10

// batchBufs holds the batch buffers between batches, so that an idle socket holds none.
var batchBufs = sync.Pool{New: func() any { return new([]byte) }}

// batchConn holds writes back while corked and sends them together when uncorked.
type batchConn struct {
	net.Conn

	mu     sync.Mutex
	corked bool
	buf    *[]byte // while corked

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

// uncork writes what was held back in one call and stops holding back.
func (c *batchConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	buf := c.buf
	c.buf = nil
	var err error
	if len(*buf) > 0 {
		_, err = c.Conn.Write(*buf)
	}
	if cap(*buf) <= batchKeepBytes {
		*buf = (*buf)[:0]
		batchBufs.Put(buf)
	}
	return err
}

// batchConnOf finds the batching connection under a socket's connection, if there is one.
func batchConnOf(nc net.Conn) *batchConn {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	bc, _ := nc.(*batchConn)
	return bc
}
