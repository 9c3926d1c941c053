package broker

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// recentEvents is how many of a group's newest retained events a snapshot carries.
const recentEvents = 20

// Snapshot is a read-only picture of every group, for the teacher's console: groups with
// their members, latest statuses and newest events, as they are at Taken.
type Snapshot struct {
	Taken time.Time
	// Published counts the messages published since start.
	Published uint64
	// Groups are ordered by domain, then creation time, then id.
	Groups []GroupSnapshot
}

// GroupSnapshot is one group as the console shows it.
type GroupSnapshot struct {
	Group
	// Live is the API's rule: before expiresAt and within the host-heartbeat TTL. A group that
	// is not live is gone for clients but not swept yet.
	Live bool
	// HostDeadline is when the group dies unless its host renews its heartbeat.
	HostDeadline time.Time
	// Members are ordered by node id, expired ones included (with Live false).
	Members []MemberSnapshot
	// Statuses are the latest reports ordered by node id, including expired ones.
	Statuses []NodeStatus
	// Events are the newest retained polling events, oldest first, at most recentEvents.
	Events []Event
	// Published counts the messages published to the group (reports and event batches).
	Published uint64
	// HostLastActive is when the host last renewed its heartbeat, reported or fired events;
	// PolledAt when the group's events were last polled (zero when never). Polls name no node,
	// so they count for the group, not for a member.
	HostLastActive time.Time
	PolledAt       time.Time
}

// MemberSnapshot is a membership with what the console says about it.
type MemberSnapshot struct {
	Member
	// LastSeen is the last join or heartbeat, derived from the expiry the member TTL set.
	LastSeen time.Time
	// LastActive is the last activity of any kind meshd sees by node id: join, heartbeat,
	// report or fired event; never before LastSeen (after a restart LastSeen is all there is).
	LastActive time.Time
	Live       bool
}

// Snapshot copies the state of every group. It holds one shard lock at a time, so it never
// stalls more than one shard's groups, and copies only what the console shows.
func (b *Broker) Snapshot() Snapshot {
	now := b.Now()
	snap := Snapshot{Taken: now, Published: b.published.Load()}
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.Lock()
		for _, g := range s.groups {
			snap.Groups = append(snap.Groups, b.snapshotGroup(g, now))
		}
		s.mu.Unlock()
	}
	slices.SortFunc(snap.Groups, func(x, y GroupSnapshot) int {
		return cmp.Or(strings.Compare(x.Domain, y.Domain), x.CreatedAt.Compare(y.CreatedAt), strings.Compare(x.ID, y.ID))
	})
	return snap
}

// snapshotGroup copies one group; the shard must be locked.
func (b *Broker) snapshotGroup(g *group, now time.Time) GroupSnapshot {
	gs := GroupSnapshot{
		Group:          g.Group,
		HostLastActive: g.lastActive(g.HostID, g.HeartbeatAt),
		Live:           b.live(g, now),
		HostDeadline:   g.HeartbeatAt.Add(b.cfg.HostHeartbeatTTL),
		Published:      g.published,
		PolledAt:       g.polledAt,
		Members:        make([]MemberSnapshot, 0, len(g.members)),
		Statuses:       make([]NodeStatus, 0, len(g.statuses)),
	}
	for _, m := range g.members {
		seen := m.ExpiresAt.Add(-b.cfg.MemberTTL)
		gs.Members = append(gs.Members, MemberSnapshot{Member: *m, LastSeen: seen, LastActive: g.lastActive(m.NodeID, seen), Live: memberLive(m, now)})
	}
	slices.SortFunc(gs.Members, func(x, y MemberSnapshot) int { return strings.Compare(x.NodeID, y.NodeID) })
	for _, st := range g.statuses {
		cp := *st
		cp.Data = slices.Clone(st.Data)
		gs.Statuses = append(gs.Statuses, cp)
	}
	slices.SortFunc(gs.Statuses, func(x, y NodeStatus) int { return strings.Compare(x.NodeID, y.NodeID) })
	first := 0
	for first < len(g.events) && now.Sub(g.events[first].Timestamp) > b.cfg.EventTTL {
		first++
	}
	first = max(first, len(g.events)-recentEvents)
	gs.Events = slices.Clone(g.events[first:])
	return gs
}
