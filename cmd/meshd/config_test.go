package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(*config) bool
	}{
		{"defaults are upstream production", nil, nil, func(c *config) bool {
			return c.hostInterval == 60 && c.hostTTL == 150 && c.memberInterval == 120 && c.memberTTL == 600 &&
				c.maxConnection == 2100 && c.eventTTL == 10 && c.pollingInterval == 2 && c.domainMode == "fixed" &&
				c.storeKind == "bbolt" && c.maxRequestBytes == 1<<20 && c.maxFrameBytes == 256<<10 && c.listenAddr == ":8080" &&
				c.cluster.sync == 0
		}},
		{"cluster fsync on an interval", nil, map[string]string{"MESH_CLUSTER_SYNC": "2s"}, func(c *config) bool { return c.cluster.sync == 2*time.Second }},
		{"cluster fsync always wins over the environment", []string{"-cluster-sync", "always"}, map[string]string{"MESH_CLUSTER_SYNC": "2s"},
			func(c *config) bool { return c.cluster.sync == 0 }},
		{"environment", nil, map[string]string{"MESH_HOST_HEARTBEAT_INTERVAL_SECONDS": "15", "MESH_API_KEYS": "a, b,,", "MESH_STATUS_FLUSH_INTERVAL": "250ms"},
			func(c *config) bool {
				return c.hostInterval == 15 && strings.Join(c.apiKeys, "|") == "a|b" && c.flushInterval == 250*time.Millisecond
			}},
		{"a flag wins over the environment", []string{"-host-heartbeat-interval-seconds", "30"}, map[string]string{"MESH_HOST_HEARTBEAT_INTERVAL_SECONDS": "15"},
			func(c *config) bool { return c.hostInterval == 30 }},
		{"trusted proxies", []string{"-trusted-proxies", "10.0.0.0/8, 192.168.1.1"}, nil, func(c *config) bool {
			return len(c.trustedProxies) == 2 && c.trustedProxies[1].String() == "192.168.1.1/32"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig(tt.args, env(tt.env), &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Fatalf("config = %+v", c)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"bad environment number", nil, map[string]string{"MESH_EVENT_TTL_SECONDS": "ten"}, `MESH_EVENT_TTL_SECONDS="ten": not a whole number`},
		{"zero interval", []string{"-event-ttl-seconds", "0"}, nil, "-event-ttl-seconds must be at least 1"},
		{"unknown store", []string{"-store", "redis"}, nil, "-store must be bbolt or memory"},
		{"bad duration", []string{"-sweep-interval", "-1s"}, nil, "not a positive duration"},
		{"bad proxy", []string{"-trusted-proxies", "lan"}, nil, `"lan" is not a network`},
		{"cluster fsync never", []string{"-cluster-sync", "never"}, nil, `invalid value "never" for flag -cluster-sync: not "always" or a positive duration such as 1s`},
		{"stray argument", []string{"serve"}, nil, `unexpected argument "serve"`},
		{"memory limit below the floor", []string{"-memory-limit-mib", "8"}, nil, "-memory-limit-mib must be 0 (none) or at least 16, got 8"},
		{"negative memory limit", nil, map[string]string{"MESH_MEMORY_LIMIT_MIB": "-1"}, "-memory-limit-mib must be 0 (none) or at least 16, got -1"},
		{"origin without a scheme", []string{"-allowed-origins", "smalruby.app"}, nil, `"smalruby.app" is not an origin: write it as a browser sends it, with its scheme`},
		{"origin with a path", []string{"-allowed-origins", "https://smalruby.app/"}, nil, "write https://smalruby.app (no path, lower case)"},
		{"origin in capitals", nil, map[string]string{"MESH_ALLOWED_ORIGINS": "https://Smalruby.APP"}, "write https://smalruby.app (no path, lower case)"},
		{"missing static directory", []string{"-static", "/nonexistent/editor"}, nil, "-static: stat /nonexistent/editor: no such file or directory"},
		{"static file", []string{"-static", "config_test.go"}, nil, "-static: config_test.go is not a directory"},
		{"public URL without a scheme", []string{"-public-url", "meshd.lan:8080"}, nil, "-public-url: "},
		{"domain mode", []string{"-domain-mode", "ipv6"}, nil, `-domain-mode: domain mode "ipv6": want fixed, ip or subnet`},
		{"log level", []string{"-log-level", "loud"}, nil, `-log-level must be debug, info, warn or error, got "loud"`},
		{"address without a port", []string{"-pprof-addr", "localhost"}, nil, "-pprof-addr: address localhost: missing port in address"},
		{"data directory inside -static", []string{"-static", "editor/testdata/prebuilt", "-data-dir", "editor/testdata/prebuilt/meshd-data"}, nil,
			"-static: the data directory editor/testdata/prebuilt/meshd-data and the editor's directory editor/testdata/prebuilt overlap"},
		{"one-character cluster secret", []string{"-cluster-secret", "s"}, nil, "-cluster-secret must be at least 16 characters long, not 1"},
		{"short cluster secret in the environment", nil, map[string]string{"MESH_CLUSTER_SECRET": "fifteen-chars-x"}, "-cluster-secret must be at least 16 characters long, not 15"},
		{"one-character NATS token", []string{"-nats-listen", "127.0.0.1:4222", "-nats-token", "t"}, nil, "-nats-token must be at least 16 characters long, not 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig(tt.args, env(tt.env), &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
			if !errors.As(err, new(usageError)) {
				t.Fatalf("%v is not a usage error (exit status 2)", err)
			}
		})
	}
}

func TestGoodOrigins(t *testing.T) {
	for _, o := range []string{"https://smalruby.app", "http://192.168.1.10:8601", "http://localhost:8601", "https://[::1]:443"} {
		if err := checkOrigin(o); err != nil {
			t.Errorf("%s: %v", o, err)
		}
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		environ []string
		want    []string
	}{
		{"the editor's variable name", []string{"-api-keys", "k"}, []string{"MESH_API_KEY=k", "PATH=/bin"},
			[]string{"MESH_API_KEY is set but is not a meshd setting: it is ignored (did you mean MESH_API_KEYS?)"}},
		{"a variable like none", []string{"-api-keys", "k"}, []string{"MESH_GRAPHQL_ENDPOINT=http://x"},
			[]string{"MESH_GRAPHQL_ENDPOINT is set but is not a meshd setting: it is ignored"}},
		{"no API key", nil, nil, []string{"no API key is set (-api-keys, MESH_API_KEYS): meshd accepts requests with any key or none"}},
		{"private listeners beyond loopback", []string{"-api-keys", "k", "-pprof-addr", ":6060", "-nats-listen", "0.0.0.0:4222", "-nats-token", "nats-token-0123456789", "-console-addr", "192.168.1.2:8081"}, nil, []string{
			"-pprof-addr :6060 listens beyond loopback: anyone on the network can reach it; bind it to 127.0.0.1 unless that is meant",
			"-nats-listen 0.0.0.0:4222 listens beyond loopback: anyone on the network can reach it; bind it to 127.0.0.1 unless that is meant",
			"-console-addr 192.168.1.2:8081 listens beyond loopback: anyone on the network can reach it; bind it to 127.0.0.1 unless that is meant"}},
		{"private listeners on loopback", []string{"-api-keys", "k", "-pprof-addr", "127.0.0.1:6060", "-nats-listen", "[::1]:4222", "-nats-token", "nats-token-0123456789", "-metrics-addr", ":9090"},
			[]string{"MESH_API_KEYS=k"}, nil},
		{"loopback by name", []string{"-api-keys", "k", "-pprof-addr", "localhost:6060"}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig(tt.args, lookup(tt.environ), &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			if got := append(unknownVariables(tt.environ), c.warnings()...); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestNearest(t *testing.T) {
	names := []string{"listen-addr", "data-dir", "api-keys", "allowed-origins"}
	for in, want := range map[string]string{"listen-adr": "listen-addr", "datadir": "data-dir", "api-key": "api-keys", "origins": "", "x": ""} {
		if got := nearest(in, names); got != want {
			t.Errorf("nearest(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCheckAndStartRefuseTheSameSettings gives `meshd check` and a start the same mistaken
// settings: both refuse them with the same words, as a usage error, before a start touches
// anything.
func TestCheckAndStartRefuseTheSameSettings(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"more replicas than a cluster may have", []string{"-cluster-listen", "127.0.0.1:0", "-cluster-secret", "s3cret-of-the-cluster", "-cluster-replicas", "9",
			"-cluster-routes", "nats://127.0.0.1:6222,nats://127.0.0.1:6223,nats://127.0.0.1:6224"}, "-cluster-replicas must be between 1 and 5, got 9"},
		{"routes without a listen address", []string{"-cluster-routes", "nats://127.0.0.1:6222"}, "-cluster-routes set without -cluster-listen"},
		{"a secret without a listen address", []string{"-cluster-secret", "s3cret-of-the-cluster"}, "-cluster-secret set without -cluster-listen"},
		{"a listen address without a secret", []string{"-cluster-listen", "127.0.0.1:0"}, "-cluster-secret is required with -cluster-listen"},
		{"half of the route TLS", []string{"-cluster-listen", "127.0.0.1:0", "-cluster-secret", "s3cret-of-the-cluster", "-cluster-tls-cert", "c.pem"},
			"-cluster-tls-cert, -cluster-tls-key and -cluster-tls-ca go together"},
		{"a listen address without a port", []string{"-cluster-listen", "localhost", "-cluster-secret", "s3cret-of-the-cluster"}, "-cluster-listen: address localhost: missing port"},
	}
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			args := append([]string{"-listen-addr", "127.0.0.1:0", "-data-dir", dir, "-api-keys", "k"}, tt.args...)
			var out bytes.Buffer
			checked := check(args, nil, &out)
			started := run(ended, args, nil, io.Discard, io.Discard)
			for what, err := range map[string]error{"meshd check": checked, "meshd": started} {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("%s: error = %v, want %q", what, err, tt.want)
				} else if !errors.As(err, new(usageError)) {
					t.Errorf("%s: %v is not a usage error (exit status 2)", what, err)
				}
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("the start touched the data directory: %v", err)
			}
		})
	}
}
