package broker

import "time"

// Config holds the timing rules and limits of the Mesh v2 API.
type Config struct {
	// HostHeartbeatInterval is how often hosts are told to call renewHeartbeat.
	HostHeartbeatInterval time.Duration
	// HostHeartbeatTTL is how long a group lives after its last host heartbeat.
	HostHeartbeatTTL time.Duration
	// MemberHeartbeatInterval is how often members are told to call sendMemberHeartbeat.
	MemberHeartbeatInterval time.Duration
	// MemberTTL is how long a membership or node status lives after its last refresh.
	MemberTTL time.Duration
	// MaxConnectionTime is the absolute lifetime of a group and the upper bound of
	// createGroup's maxConnectionTimeSeconds.
	MaxConnectionTime time.Duration
	// EventTTL is how long polling events are retained.
	EventTTL time.Duration
	// PollingInterval is returned to groups that poll instead of subscribing.
	PollingInterval time.Duration
	// EventPageLimit is the most events one getEventsSince call returns.
	EventPageLimit int
	// StatusFlushInterval is how often changed node statuses are written to the store.
	StatusFlushInterval time.Duration
	// SweepInterval is how often dead groups, members, statuses and events are removed.
	SweepInterval time.Duration
}

// DefaultConfig returns the upstream production defaults.
func DefaultConfig() Config {
	return Config{
		HostHeartbeatInterval:   60 * time.Second,
		HostHeartbeatTTL:        150 * time.Second,
		MemberHeartbeatInterval: 120 * time.Second,
		MemberTTL:               600 * time.Second,
		MaxConnectionTime:       2100 * time.Second,
		EventTTL:                10 * time.Second,
		PollingInterval:         2 * time.Second,
		EventPageLimit:          100,
		StatusFlushInterval:     time.Second,
		SweepInterval:           5 * time.Second,
	}
}
