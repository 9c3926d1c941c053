package gql

import (
	"bytes"
	"io"
	"net"
	"slices"
	"testing"
	"time"
)

// countingConn records every Write that reaches the network.
type countingConn struct {
	net.Conn
	writes [][]byte
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes = append(c.writes, bytes.Clone(p))
	return len(p), nil
}

func TestBatchConn(t *testing.T) {
	tests := []struct {
		name   string
		corked bool
		frames []string
		want   []string // what reached the network, write by write
	}{
		{"uncorked writes pass through", false, []string{"a", "b"}, []string{"a", "b"}},
		{"corked writes leave together, in order", true, []string{"a", "bc", "d"}, []string{"abcd"}},
		{"an empty batch writes nothing", true, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			under := &countingConn{}
			c := &batchConn{Conn: under}
			if tc.corked {
				c.cork()
			}
			for _, f := range tc.frames {
				if n, err := c.Write([]byte(f)); n != len(f) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", f, n, err)
				}
			}
			if tc.corked {
				if len(under.writes) != 0 {
					t.Fatalf("%d writes reached the network while corked", len(under.writes))
				}
				if err := c.uncork(); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			for _, w := range under.writes {
				got = append(got, string(w))
			}
			if len(got) != len(tc.want) {
				t.Fatalf("writes = %q, want %q", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("writes = %q, want %q", got, tc.want)
				}
			}
			// After uncorking, writes pass straight through again.
			c.Write([]byte("z"))
			if last := under.writes[len(under.writes)-1]; string(last) != "z" {
				t.Fatalf("write after uncork = %q, want z", last)
			}
		})
	}
}

// deadlineConn records every write deadline that reaches the connection.
type deadlineConn struct {
	net.Conn
	deadlines []time.Time
}

func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	c.deadlines = append(c.deadlines, t)
	return nil
}

func (c *deadlineConn) SetDeadline(t time.Time) error { return c.SetWriteDeadline(t) }

// gorilla/websocket sets the write deadline before every frame; only a change reaches the
// connection, and whatever set the connection's deadline last (a pong's own, SetDeadline)
// counts as the deadline it has.
func TestBatchConnPassesOnlyChangedDeadlines(t *testing.T) {
	t0 := time.Unix(1000, 0)
	t1, t2 := t0.Add(time.Second), t0.Add(2*time.Second)
	type set struct {
		both bool // SetDeadline rather than SetWriteDeadline
		t    time.Time
	}
	tests := []struct {
		name string
		sets []set
		want []time.Time
	}{
		{"the same deadline again", []set{{false, t1}, {false, t1}, {false, t1}}, []time.Time{t1}},
		{"a later one", []set{{false, t1}, {false, t2}, {false, t2}}, []time.Time{t1, t2}},
		{"back to an earlier one", []set{{false, t2}, {false, t1}, {false, t2}}, []time.Time{t2, t1, t2}},
		{"after SetDeadline", []set{{false, t1}, {true, t2}, {false, t2}, {false, t1}}, []time.Time{t1, t2, t1}},
		{"cleared", []set{{false, t1}, {false, time.Time{}}, {false, time.Time{}}}, []time.Time{t1, {}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			under := &deadlineConn{}
			c := &batchConn{Conn: under}
			for _, s := range tc.sets {
				if s.both {
					c.SetDeadline(s.t)
				} else {
					c.SetWriteDeadline(s.t)
				}
			}
			if !slices.EqualFunc(under.deadlines, tc.want, time.Time.Equal) {
				t.Fatalf("deadlines passed on = %v, want %v", under.deadlines, tc.want)
			}
		})
	}
}

func TestBatchConnOf(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if batchConnOf(a) != nil {
		t.Fatal("a plain connection reported as batching")
	}
	bc := &batchConn{Conn: a}
	if batchConnOf(bc) != bc {
		t.Fatal("batching connection not found")
	}
}

// tcpBatchConn returns both ends of a loopback TCP connection: the server's, accepted through
// BatchingListener, and the client's.
func tcpBatchConn(t *testing.T) (*batchConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	sc, err := BatchingListener(ln).Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Close() })
	return sc.(*batchConn), client
}

// uncorkNow hands the kernel what it takes at once and keeps the rest, which goes before
// anything written later, so the peer reads every byte once, in order, whether the socket
// took the batch whole or not. A peer that has not read yet holds a few megabytes at most
// in the kernel's buffers (Linux's tcp_wmem and initial receive window), far below 16 MB.
func TestBatchConnUncorkNow(t *testing.T) {
	tests := []struct {
		name     string
		size     int
		whole    bool // uncorkNow reports all of it gone
		flushing bool // the rest goes by flush rather than by the next Write
	}{
		{"a frame the socket takes at once", 100, true, false},
		{"more than the socket takes, then a write", 16 << 20, false, false},
		{"more than the socket takes, then a flush", 16 << 20, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bc, client := tcpBatchConn(t)
			pattern := make([]byte, 251) // a length no buffer size divides
			for i := range pattern {
				pattern[i] = byte(i)
			}
			batch := bytes.Repeat(pattern, tc.size/len(pattern)+1)[:tc.size]
			tail := []byte("tail")
			want := append(bytes.Clone(batch), tail...)
			got := make(chan []byte, 1)
			read := func() {
				b := make([]byte, len(want))
				_, err := io.ReadFull(client, b)
				if err != nil {
					t.Error(err)
				}
				got <- b
			}

			if !bc.tryCorkNow() {
				t.Fatal("an idle TCP connection cannot be written without waiting")
			}
			bc.Write(batch)
			if whole := bc.uncorkNow(); whole != tc.whole {
				t.Fatalf("uncorkNow = %v, want %v", whole, tc.whole)
			}
			if !tc.whole && (bc.pending == nil || len(*bc.pending) == 0 || len(*bc.pending) == tc.size) {
				t.Fatalf("pending after a partial write: %v", bc.pending)
			}
			go read()
			if tc.flushing {
				if err := bc.flush(); err != nil {
					t.Fatal(err)
				}
				if bc.pending != nil {
					t.Fatal("flush left bytes pending")
				}
			}
			if _, err := bc.Write(tail); err != nil {
				t.Fatal(err)
			}
			if b := <-got; !bytes.Equal(b, want) {
				i := 0
				for i < len(b) && b[i] == want[i] {
					i++
				}
				t.Fatalf("the peer read %d bytes that differ from what was written from byte %d", len(b), i)
			}
		})
	}
}

// tryCorkNow declines a connection with no socket of its own to write to, one with a write
// under way (which may be waiting for its reader), and one with bytes still pending.
func TestBatchConnTryCorkNow(t *testing.T) {
	tests := []struct {
		name  string
		setup func(bc *batchConn) (undo func())
		want  bool
	}{
		{"idle", func(*batchConn) func() { return func() {} }, true},
		{"no socket", func(bc *batchConn) func() {
			raw := bc.raw
			bc.raw = nil
			return func() { bc.raw = raw }
		}, false},
		{"a write under way", func(bc *batchConn) func() {
			bc.mu.Lock()
			return bc.mu.Unlock
		}, false},
		{"bytes pending", func(bc *batchConn) func() {
			bc.pending = &[]byte{}
			return func() { bc.pending = nil }
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bc, _ := tcpBatchConn(t)
			undo := tc.setup(bc)
			got := bc.tryCorkNow()
			undo()
			if got != tc.want {
				t.Fatalf("tryCorkNow = %v, want %v", got, tc.want)
			}
			if got != bc.corked {
				t.Fatalf("corked = %v after tryCorkNow = %v", bc.corked, got)
			}
		})
	}
}
