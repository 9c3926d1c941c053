package main

import (
	"net"
	"net/url"
	"testing"
)

func TestEndpointsFor(t *testing.T) {
	tests := []struct {
		in       string
		remote   bool // -allow-remote
		graphql  string
		realtime string
		host     string
		err      bool
	}{
		{in: "http://127.0.0.1:8080/graphql", graphql: "http://127.0.0.1:8080/graphql", realtime: "ws://127.0.0.1:8080/graphql/realtime", host: "127.0.0.1:8080"},
		{in: "http://127.1.2.3:9", graphql: "http://127.1.2.3:9/graphql", realtime: "ws://127.1.2.3:9/graphql/realtime", host: "127.1.2.3:9"},
		{in: "http://[::1]:8080/graphql/", graphql: "http://[::1]:8080/graphql", realtime: "ws://[::1]:8080/graphql/realtime", host: "[::1]:8080"},
		{in: "http://localhost/graphql", graphql: "http://localhost:80/graphql", realtime: "ws://localhost:80/graphql/realtime", host: "localhost:80"},
		{in: "http://10.0.0.1:8080/graphql", err: true},
		{in: "http://192.168.1.5/graphql", err: true},
		{in: "http://8.8.8.8/graphql", err: true},
		{in: "http://[::2]:80/graphql", err: true},
		{in: "http://[::ffff:10.0.0.1]:80/graphql", err: true},
		{in: "http://example.com/graphql", err: true},
		{in: "https://127.0.0.1/graphql", err: true},
		{in: "://", err: true},
		{in: "http://127.0.0.1@8.8.8.8/", remote: true, err: true},
		{in: "ftp://127.0.0.1/graphql", remote: true, err: true},
		// With -allow-remote: any http(s) host, derived as the editor's SDK does.
		{in: "http://127.0.0.1:8080/graphql", remote: true, graphql: "http://127.0.0.1:8080/graphql", realtime: "ws://127.0.0.1:8080/graphql/realtime", host: "127.0.0.1:8080"},
		{in: "https://127.0.0.1:8443/graphql", remote: true, graphql: "https://127.0.0.1:8443/graphql", realtime: "wss://127.0.0.1:8443/graphql/realtime", host: "127.0.0.1:8443"},
		{in: "https://mesh.school.example/graphql", remote: true, graphql: "https://mesh.school.example/graphql", realtime: "wss://mesh.school.example/graphql/realtime", host: "mesh.school.example"},
		{in: "http://10.0.0.1:8080/graphql", remote: true, graphql: "http://10.0.0.1:8080/graphql", realtime: "ws://10.0.0.1:8080/graphql/realtime", host: "10.0.0.1:8080"},
		{in: "https://abcdefghijklmnopqrstuvwxyz.appsync-api.ap-northeast-1.amazonaws.com/graphql", remote: true,
			graphql:  "https://abcdefghijklmnopqrstuvwxyz.appsync-api.ap-northeast-1.amazonaws.com/graphql",
			realtime: "wss://abcdefghijklmnopqrstuvwxyz.appsync-realtime-api.ap-northeast-1.amazonaws.com/graphql",
			host:     "abcdefghijklmnopqrstuvwxyz.appsync-api.ap-northeast-1.amazonaws.com"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			ep, err := endpointsFor(tc.in, tc.remote)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if err == nil && (ep.graphql != tc.graphql || ep.realtime != tc.realtime || ep.host != tc.host) {
				t.Fatalf("got %+v", ep)
			}
		})
	}
}

// FuzzEndpointsFor checks that no target the generator accepts points anywhere but loopback.
func FuzzEndpointsFor(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:8080/graphql", "http://[::1]/", "http://localhost", "http://10.0.0.1/", "http://127.0.0.1@8.8.8.8/", "http://0x7f.1/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ep, err := endpointsFor(s, false)
		if err != nil {
			return
		}
		for _, raw := range []string{ep.graphql, ep.realtime} {
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatalf("endpointsFor(%q) made an unparsable URL %q", s, raw)
			}
			if h := u.Hostname(); h != "localhost" && !isLoopbackIP(h) {
				t.Fatalf("endpointsFor(%q) accepted host %q", s, h)
			}
		}
	})
}

func isLoopbackIP(h string) bool {
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
