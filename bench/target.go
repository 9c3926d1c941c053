package main

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
)

// endpoints are the URLs of one server under test.
type endpoints struct {
	graphql  string // http://127.0.0.1:8080/graphql
	realtime string // ws://127.0.0.1:8080/graphql/realtime
	host     string // the GraphQL host, as the SDK puts it in the realtime header
	loopback bool   // the server runs on this machine
}

// appSyncHost matches AppSync's own GraphQL hosts, whose realtime endpoint is a sibling host
// rather than a path.
var appSyncHost = regexp.MustCompile(`^[a-z0-9]+\.appsync-api\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$`)

// endpointsFor derives the endpoints from a GraphQL URL the way the editor's SDK does: for an
// AppSync host, https → wss and appsync-api → appsync-realtime-api with the same path, the
// API host in the realtime header; for any other host, http(s) → ws(s) and /realtime
// appended. Only loopback targets are accepted unless allowRemote: this generator floods its
// target and must never be pointed at another machine by accident.
func endpointsFor(raw string, allowRemote bool) (endpoints, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return endpoints{}, fmt.Errorf("target %q: %w", raw, err)
	}
	switch {
	case u.Scheme == "http":
	case u.Scheme == "https" && allowRemote:
	case u.Scheme == "https":
		return endpoints{}, fmt.Errorf("target %q: https:// targets need -allow-remote", raw)
	default:
		return endpoints{}, fmt.Errorf("target %q: only http:// and https:// URLs are supported", raw)
	}
	if u.Hostname() == "" || u.User != nil {
		return endpoints{}, fmt.Errorf("target %q: want a URL with a host and no credentials", raw)
	}
	loopErr := checkLoopback(u.Hostname())
	if loopErr != nil && !allowRemote {
		return endpoints{}, fmt.Errorf("target %q: %w (pass -allow-remote to load another machine)", raw, loopErr)
	}
	if u.Port() == "" && u.Scheme == "http" && loopErr == nil {
		u.Host = net.JoinHostPort(u.Hostname(), "80")
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	if u.Path == "" {
		u.Path = "/graphql"
	}
	u.RawQuery, u.Fragment = "", ""
	rt := *u
	rt.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
	if appSyncHost.MatchString(u.Hostname()) {
		rt.Host = strings.Replace(u.Host, ".appsync-api.", ".appsync-realtime-api.", 1)
	} else {
		rt.Path += "/realtime"
	}
	return endpoints{graphql: u.String(), realtime: rt.String(), host: u.Host, loopback: loopErr == nil}, nil
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
