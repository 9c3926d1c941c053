package gql

import (
	"bytes"
	"net"
	"testing"
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
