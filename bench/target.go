package main

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// endpoints are the URLs of one server under test.
type endpoints struct {
	graphql  string // http://127.0.0.1:8080/graphql
	realtime string // ws://127.0.0.1:8080/graphql/realtime
	host     string // host:port, as the SDK puts it in the realtime header
}

// endpointsFor derives the endpoints from a GraphQL URL the way the SDK does (append
// /realtime, http → ws). Only loopback targets are accepted: this generator floods its
// target and must never be pointed at another machine.
func endpointsFor(raw string) (endpoints, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return endpoints{}, fmt.Errorf("target %q: %w", raw, err)
	}
	if u.Scheme != "http" {
		return endpoints{}, fmt.Errorf("target %q: only http:// URLs are supported", raw)
	}
	if err := checkLoopback(u.Hostname()); err != nil {
		return endpoints{}, fmt.Errorf("target %q: %w", raw, err)
	}
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), "80")
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	if u.Path == "" {
		u.Path = "/graphql"
	}
	u.RawQuery, u.Fragment = "", ""
	rt := *u
	rt.Scheme = "ws"
	rt.Path += "/realtime"
	return endpoints{graphql: u.String(), realtime: rt.String(), host: u.Host}, nil
}

// checkLoopback accepts an IP literal in 127.0.0.0/8 or ::1, and the name localhost.
func checkLoopback(host string) error {
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return fmt.Errorf("host %q is not an IP address; the target must be loopback (127.0.0.0/8 or ::1)", host)
	}
	if ip4 := ip.To4(); ip4 != nil && ip4[0] == 127 || ip.Equal(net.IPv6loopback) {
		return nil
	}
	return fmt.Errorf("refusing non-loopback target %s: only 127.0.0.0/8 and ::1 may be loaded", host)
}
