package access

import (
	"net/netip"
	"testing"
)

func TestKeySet(t *testing.T) {
	s := NewKeySet([]string{"da2-pupils", "another-key"})
	tests := []struct {
		name, key string
		want      bool
	}{
		{"first key", "da2-pupils", true},
		{"second key", "another-key", true},
		{"prefix of a key", "da2-pupil", false},
		{"key with more", "da2-pupilss", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.Contains(tt.key); got != tt.want {
				t.Fatalf("Contains(%q) = %v", tt.key, got)
			}
		})
	}
	if s.Len() != 2 || NewKeySet(nil).Len() != 0 || NewKeySet(nil).Contains("") {
		t.Fatal("an empty set holds nothing")
	}
}

func TestProxies(t *testing.T) {
	p := Proxies{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name, remote string
		addr         string
		trusted      bool
	}{
		{"inside", "10.1.2.3:5000", "10.1.2.3", true},
		{"IPv4-mapped IPv6 inside", "[::ffff:10.1.2.3]:5000", "10.1.2.3", true},
		{"IPv6 inside", "[fd00::5]:80", "fd00::5", true},
		{"outside", "192.168.1.20:5000", "192.168.1.20", false},
		{"not an address", "pipe", "invalid IP", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, trusted := p.Peer(tt.remote)
			if addr.String() != tt.addr || trusted != tt.trusted {
				t.Fatalf("Peer(%q) = %v, %v", tt.remote, addr, trusted)
			}
		})
	}
	if (Proxies{}).Trusts(netip.MustParseAddr("10.0.0.1")) {
		t.Fatal("no proxies trust nobody")
	}
}

func TestFirstValue(t *testing.T) {
	for in, want := range map[string]string{"": "", "a": "a", " a , b": "a", "mesh.school.example, proxy.lan": "mesh.school.example"} {
		if got := FirstValue(in); got != want {
			t.Errorf("FirstValue(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClient(t *testing.T) {
	p := Proxies{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tt := range []struct{ name, remote, forwarded, want string }{
		{"trusted proxy names the client", "10.1.2.3:5000", "192.168.1.20, 10.9.9.9", "192.168.1.20"},
		{"trusted proxy, IPv4-mapped client", "10.1.2.3:5000", "::ffff:192.168.1.20", "192.168.1.20"},
		{"trusted proxy without the header", "10.1.2.3:5000", "", "10.1.2.3"},
		{"trusted proxy, junk header", "10.1.2.3:5000", "not-an-ip", "10.1.2.3"},
		{"untrusted peer is not believed", "192.168.1.20:5000", "10.7.7.7", "192.168.1.20"},
		{"not an address", "pipe", "192.168.1.20", "invalid IP"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Client(tt.remote, tt.forwarded).String(); got != tt.want {
				t.Fatalf("Client(%q, %q) = %s, want %s", tt.remote, tt.forwarded, got, tt.want)
			}
		})
	}
}

func TestHolder(t *testing.T) {
	for in, want := range map[string]string{
		"192.168.1.20":              "192.168.1.20",
		"2001:db8:1:2:aaaa::1":      "2001:db8:1:2::",
		"2001:db8:1:2:ffff:ffff::9": "2001:db8:1:2::",
		"2001:db8:1:3::1":           "2001:db8:1:3::",
	} {
		if got := Holder(netip.MustParseAddr(in)).String(); got != want {
			t.Errorf("Holder(%s) = %s, want %s", in, got, want)
		}
	}
}
