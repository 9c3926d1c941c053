// Package access holds meshd's two checks of who is calling: a set of keys compared in
// constant time, and the networks of trusted proxies whose forwarding headers are believed.
package access

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/netip"
	"strings"
)

// KeySet is a set of keys (API keys, admin keys) that a presented key is compared against in
// time that does not depend on which key, or how much of one, it matches.
type KeySet struct {
	sums [][sha256.Size]byte
}

// NewKeySet holds keys.
func NewKeySet(keys []string) KeySet {
	s := KeySet{sums: make([][sha256.Size]byte, len(keys))}
	for i, k := range keys {
		s.sums[i] = sha256.Sum256([]byte(k))
	}
	return s
}

// Len is the number of keys in the set.
func (s KeySet) Len() int { return len(s.sums) }

// Contains reports whether key is one of the set's keys.
func (s KeySet) Contains(key string) bool {
	sum := sha256.Sum256([]byte(key))
	ok := 0
	for _, k := range s.sums {
		ok |= subtle.ConstantTimeCompare(sum[:], k[:])
	}
	return ok == 1
}

// Proxies are the networks of trusted proxies (meshd's -trusted-proxies).
type Proxies []netip.Prefix

// Trusts reports whether addr is in one of the networks.
func (p Proxies) Trusts(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, n := range p {
		if n.Contains(addr) {
			return true
		}
	}
	return false
}

// Peer is the address of a request's peer (http.Request.RemoteAddr, host:port) and whether it
// is a trusted proxy; an unparsable address is the zero Addr and never trusted.
func (p Proxies) Peer(remoteAddr string) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	addr := ap.Addr().Unmap()
	return addr, p.Trusts(addr)
}

// Client is the address of the client behind a request: the first X-Forwarded-For entry when
// the peer (remoteAddr, host:port) is a trusted proxy and names one, else the peer itself; the
// zero Addr when the peer's address is unparsable.
func (p Proxies) Client(remoteAddr, forwardedFor string) netip.Addr {
	addr, trusted := p.Peer(remoteAddr)
	if trusted && forwardedFor != "" {
		if fwd, err := netip.ParseAddr(FirstValue(forwardedFor)); err == nil {
			return fwd.Unmap()
		}
	}
	return addr
}

// Holder is the address that stands for whoever holds addr, for limits counted per client: an
// IPv6 address's /64 (which one host or home usually holds whole), an IPv4 address itself.
func Holder(addr netip.Addr) netip.Addr {
	if addr.Is6() {
		return netip.PrefixFrom(addr, 64).Masked().Addr()
	}
	return addr
}

// FirstValue is the first entry of a comma-separated forwarding header (X-Forwarded-For,
// X-Forwarded-Host): the one the proxy nearest the client wrote.
func FirstValue(header string) string {
	first, _, _ := strings.Cut(header, ",")
	return strings.TrimSpace(first)
}
