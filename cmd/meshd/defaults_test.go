package main

import (
	"bytes"
	"testing"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/gql"
)

// The flags' defaults (and so -h's) are the broker's and the API's defaults tables, so the
// numbers are written once.
func TestFlagDefaultsAreTheTables(t *testing.T) {
	c, err := parseConfig(nil, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	b, api := broker.DefaultConfig(), gql.DefaultConfig()
	rt := api.Realtime
	tests := []struct {
		flag      string
		got, want any
	}{
		{"host-heartbeat-interval-seconds", seconds(c.hostInterval), b.HostHeartbeatInterval},
		{"host-heartbeat-ttl-seconds", seconds(c.hostTTL), b.HostHeartbeatTTL},
		{"member-heartbeat-interval-seconds", seconds(c.memberInterval), b.MemberHeartbeatInterval},
		{"member-heartbeat-ttl-seconds", seconds(c.memberTTL), b.MemberTTL},
		{"max-connection-time-seconds", seconds(c.maxConnection), b.MaxConnectionTime},
		{"dead-group-grace-seconds", seconds(c.deadGroupGrace), b.DeadGroupGrace},
		{"event-ttl-seconds", seconds(c.eventTTL), b.EventTTL},
		{"polling-interval-seconds", seconds(c.pollingInterval), b.PollingInterval},
		{"event-page-limit", c.eventPageLimit, b.EventPageLimit},
		{"status-flush-interval", c.flushInterval, b.StatusFlushInterval},
		{"sweep-interval", c.sweepInterval, b.SweepInterval},
		{"max-request-bytes", c.maxRequestBytes, api.MaxRequestBytes},
		{"request-timeout", c.requestTimeout, api.RequestTimeout},
		{"keepalive-seconds", seconds(c.keepalive), rt.KeepAlive},
		{"connection-timeout-ms", c.connTimeoutMS, rt.ConnectionTimeoutMS},
		{"max-ws-frame-bytes", c.maxFrameBytes, rt.MaxFrameBytes},
		{"max-connections", c.maxConnections, rt.MaxConnections},
		{"max-subscriptions-per-connection", c.maxSubs, rt.MaxSubscriptions},
		{"send-queue-frames", c.sendQueue, rt.SendQueue},
		{"send-queue-bytes", c.sendQueueBytes, rt.SendQueueBytes},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("-%s defaults to %v, the table says %v", tt.flag, tt.got, tt.want)
		}
	}
}
