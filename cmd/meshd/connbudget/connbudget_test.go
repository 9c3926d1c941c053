package connbudget

import (
	"bufio"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/smalruby/meshd/gql/access"
)

// serve serves a budget of max connections, perAddr from one address, on a loopback listener,
// and returns its address.
func serve(t *testing.T, b *Budget) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }),
		ConnState: b.Track,
	}
	go srv.Serve(b.Listen(ln))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// answer opens a connection from the loopback address local, sends one request and returns
// the status code it is answered with; the connection stays open (a keep-alive) until the
// test ends.
func answer(t *testing.T, local, addr string) int {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: meshd\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestTrustedProxiesAreNotCappedPerAddress: with one connection per address, a peer the
// access.Proxies trust (a load balancer carrying many clients) keeps every connection it opens,
// and any other peer is held to its own one, whatever it claims to forward.
func TestTrustedProxiesAreNotCappedPerAddress(t *testing.T) {
	proxies := access.Proxies{netip.MustParsePrefix("127.0.0.2/32")}
	b := New(100, 1, proxies, slog.New(slog.DiscardHandler))
	addr := serve(t, b)
	for i := range 3 {
		if code := answer(t, "127.0.0.2", addr); code != http.StatusOK {
			t.Fatalf("trusted proxy's connection %d: %d, want 200", i+1, code)
		}
	}
	if code := answer(t, "127.0.0.3", addr); code != http.StatusOK {
		t.Fatalf("a client's first connection: %d, want 200", code)
	}
	if code := answer(t, "127.0.0.3", addr); code != http.StatusTooManyRequests {
		t.Fatalf("a client's second connection: %d, want 429", code)
	}
	if s := b.Stats(); s.Open != 4 || s.Refused != 1 || s.Max != 100 {
		t.Fatalf("stats %+v, want 4 open and 1 refused", s)
	}
}

// TestCap: a setting is the budget; without one it is the descriptor limit less the reserve.
func TestCap(t *testing.T) {
	if got := Cap(500); got != 500 {
		t.Fatalf("Cap(500) = %d", got)
	}
	if got := Cap(0); got < 64 {
		t.Fatalf("Cap(0) = %d, want at least 64", got)
	}
}
