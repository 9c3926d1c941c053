package main

import (
	"bytes"
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
				c.storeKind == "bbolt" && c.maxRequestBytes == 1<<20 && c.maxFrameBytes == 256<<10 && c.listenAddr == ":8080"
		}},
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
		{"stray argument", []string{"serve"}, nil, `unexpected argument "serve"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig(tt.args, env(tt.env), &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
}
