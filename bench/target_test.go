package main

import "testing"

func TestEndpointsFor(t *testing.T) {
	tests := []struct {
		in       string
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
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			ep, err := endpointsFor(tc.in)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if err == nil && (ep.graphql != tc.graphql || ep.realtime != tc.realtime || ep.host != tc.host) {
				t.Fatalf("got %+v", ep)
			}
		})
	}
}
