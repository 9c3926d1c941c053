package broker

import (
	"fmt"
	"hash/crc32"
	"net/netip"
	"strconv"
)

// DomainMode says how createDomain derives a caller's domain.
type DomainMode string

// The domain modes.
const (
	// DomainFixed gives every caller the same domain: right for a classroom LAN, where every PC
	// has its own private address.
	DomainFixed DomainMode = "fixed"
	// DomainIP hashes the caller's address, as upstream does (right when a class shares one
	// public address).
	DomainIP DomainMode = "ip"
	// DomainSubnet hashes the caller's /24 (IPv4) or /64 (IPv6) network.
	DomainSubnet DomainMode = "subnet"
)

// ParseDomainMode checks a configured domain mode.
func ParseDomainMode(s string) (DomainMode, error) {
	switch m := DomainMode(s); m {
	case DomainFixed, DomainIP, DomainSubnet:
		return m, nil
	}
	return "", fmt.Errorf("domain mode %q: want fixed, ip or subnet", s)
}

// DomainHash is upstream's domain function: the lower-case hex CRC-32 (IEEE) of secret and
// source, without zero padding.
func DomainHash(secret, source string) string {
	return strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(secret+source))), 16)
}

// Domain returns the domain createDomain gives a caller at address ip ("" when unknown).
func Domain(mode DomainMode, secret, ip string) string {
	switch mode {
	case DomainFixed:
		return DomainHash(secret, "meshd")
	case DomainSubnet:
		if addr, err := netip.ParseAddr(ip); err == nil {
			bits := 64
			if addr.Unmap().Is4() {
				addr, bits = addr.Unmap(), 24
			}
			prefix, _ := addr.Prefix(bits)
			return DomainHash(secret, prefix.String())
		}
	}
	if ip == "" {
		ip = "none"
	}
	return DomainHash(secret, ip)
}
