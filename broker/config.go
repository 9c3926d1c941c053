package broker

import "time"

// Config holds the timing rules and limits of the Mesh v2 API. New gives every zero field its
// value from DefaultConfig, so Config{} is the upstream production configuration.
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
	// DeadGroupGrace is how long a group that died — its expiresAt passed or its host's
	// heartbeat lapsed — stays known: meanwhile it answers Group expired or heartbeat expired
	// rather than Group not found, and afterwards the sweeper forgets it.
	DeadGroupGrace time.Duration
	// EventTTL is how long polling events are retained.
	EventTTL time.Duration
	// PollingInterval is returned to groups that poll instead of subscribing.
	PollingInterval time.Duration
	// EventPageLimit is the most events one getEventsSince call returns.
	EventPageLimit int
	// StatusFlushInterval is how often changed node statuses are written to the store; a
	// negative value turns the background flush off (Flush still runs at Close).
	StatusFlushInterval time.Duration
	// SweepInterval is how often dead groups, members, statuses and events are removed; a
	// negative value turns the background sweep off.
	SweepInterval time.Duration
}

// DefaultConfig returns the upstream production defaults: the one table that New fills a
// Config's zero fields from and that meshd's flags take their defaults from.
func DefaultConfig() Config {
	return Config{
		HostHeartbeatInterval:   60 * time.Second,
		HostHeartbeatTTL:        150 * time.Second,
		MemberHeartbeatInterval: 120 * time.Second,
		MemberTTL:               600 * time.Second,
		MaxConnectionTime:       2100 * time.Second,
		DeadGroupGrace:          10 * time.Minute,
		EventTTL:                10 * time.Second,
		PollingInterval:         2 * time.Second,
		EventPageLimit:          100,
		StatusFlushInterval:     time.Second,
		SweepInterval:           5 * time.Second,
	}
}

// withDefaults is c with its zero fields taken from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	fill(&c.HostHeartbeatInterval, d.HostHeartbeatInterval)
	fill(&c.HostHeartbeatTTL, d.HostHeartbeatTTL)
	fill(&c.MemberHeartbeatInterval, d.MemberHeartbeatInterval)
	fill(&c.MemberTTL, d.MemberTTL)
	fill(&c.MaxConnectionTime, d.MaxConnectionTime)
	fill(&c.DeadGroupGrace, d.DeadGroupGrace)
	fill(&c.EventTTL, d.EventTTL)
	fill(&c.PollingInterval, d.PollingInterval)
	fill(&c.EventPageLimit, d.EventPageLimit)
	fill(&c.StatusFlushInterval, d.StatusFlushInterval)
	fill(&c.SweepInterval, d.SweepInterval)
	return c
}

// pollingHeartbeatPolls is how many polling intervals apart the members of a polling group are
// told to send heartbeats.
const pollingHeartbeatPolls = 3

// MemberHeartbeatFor is how often the members of g are told to send heartbeats:
// MemberHeartbeatInterval, but at most pollingHeartbeatPolls polling intervals in a group whose
// members poll, because a polling editor learns that its group ended only from the answer to
// a heartbeat (its failed polls are only logged).
func (c Config) MemberHeartbeatFor(g Group) time.Duration {
	if g.PollingIntervalSeconds > 0 {
		return min(c.MemberHeartbeatInterval, pollingHeartbeatPolls*time.Duration(g.PollingIntervalSeconds)*time.Second)
	}
	return c.MemberHeartbeatInterval
}

// fill sets *v to d when *v is zero.
func fill[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}
