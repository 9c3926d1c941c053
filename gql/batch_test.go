package gql

import (
	"bytes"
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
