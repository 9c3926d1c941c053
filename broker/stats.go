package broker

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Stats counts the live state, for monitoring.
type Stats struct {
	Groups    int
	Members   int
	Statuses  int
	Published uint64
	// GroupsCreated, GroupsDissolved and GroupsExpired count groups since start: created by
	// createGroup, dissolved by their host, and removed by the sweeper because their lifetime
	// or their host's heartbeat ran out.
	GroupsCreated, GroupsDissolved, GroupsExpired uint64
}

// Stats counts groups, members and statuses (expired ones the sweeper has not removed yet
// included) and the messages published since start.
func (b *Broker) Stats() Stats {
	st := Stats{
		Published:       b.published.Load(),
		GroupsCreated:   b.lifecycle.created.Load(),
		GroupsDissolved: b.lifecycle.dissolved.Load(),
		GroupsExpired:   b.lifecycle.expired.Load(),
	}
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.Lock()
		st.Groups += len(s.groups)
		for _, g := range s.groups {
			st.Members += len(g.members)
			st.Statuses += len(g.statuses)
		}
		s.mu.Unlock()
	}
	return st
}

// Ready reports whether the broker can serve: its bus is up, its store is open and the
// store's last commit succeeded. After a failure the sweeper probes the store (see probe),
// so a store that recovers is seen without a client's change.
func (b *Broker) Ready(ctx context.Context) error {
	if !b.bus.Healthy() {
		return errors.New("message bus is down")
	}
	if err := b.store.Commit(ctx, nil); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := b.commit.health.last(); err != nil {
		return fmt.Errorf("store: the last commit failed: %w", err)
	}
	return nil
}

// lifecycle counts the groups that began and ended since start.
type lifecycle struct {
	created, dissolved, expired atomic.Uint64
}

// groupCreated counts and logs a new group: one line per group, never per message.
func (b *Broker) groupCreated(g Group) {
	b.lifecycle.created.Add(1)
	b.log.Info("group created", "domain", g.Domain, "group", g.ID, "websocket", g.UseWebSocket, "expires_at", FormatTime(g.ExpiresAt))
}

// groupEnd is what the log says of a group that ended, taken while its shard is locked.
type groupEnd struct {
	domain, id string
	members    int
	lived      time.Duration
	reason     string
}

func endOf(g *group, now time.Time) groupEnd {
	reason := "host heartbeat"
	if now.After(g.ExpiresAt) {
		reason = "lifetime"
	}
	return groupEnd{g.Domain, g.ID, len(g.members), now.Sub(g.CreatedAt).Round(time.Second), reason}
}

// groupDissolved counts and logs a group its host ended.
func (b *Broker) groupDissolved(e groupEnd) {
	b.lifecycle.dissolved.Add(1)
	b.log.Info("group dissolved", "domain", e.domain, "group", e.id, "members", e.members, "lived", e.lived.String())
}

// groupExpired counts and logs a group the sweeper removed, with what ran out.
func (b *Broker) groupExpired(e groupEnd) {
	b.lifecycle.expired.Add(1)
	b.log.Info("group expired", "domain", e.domain, "group", e.id, "reason", e.reason, "members", e.members, "lived", e.lived.String())
}
