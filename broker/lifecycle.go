package broker

import (
	"sync/atomic"
	"time"
)

// EndReason says why a group ended.
type EndReason string

// The ways a group ends.
const (
	// EndDissolved: its host dissolved it (the teacher's console dissolves on the host's
	// behalf).
	EndDissolved EndReason = "dissolved"
	// EndHostGone: its host's heartbeat lapsed — the host's tab closed or lost the network.
	EndHostGone EndReason = "host gone"
	// EndExpired: it reached its expiresAt.
	EndExpired EndReason = "expired"
)

// GroupEnd is a group that ended, as Options.OnGroupEnd is told of it.
type GroupEnd struct {
	// Group is the group as it was when it ended.
	Group Group
	// Reason is why it ended.
	Reason EndReason
	// At is when meshd ended it: the dissolve, or the sweep that found it dead.
	At time.Time
	// Members counts its memberships, expired ones included, when it ended.
	Members int
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

// endOf describes how a group that is no longer live ended, by the rule that killed it; the
// group's shard must be locked.
func endOf(g *group, now time.Time, dissolved bool) GroupEnd {
	reason := EndHostGone
	switch {
	case dissolved:
		reason = EndDissolved
	case now.After(g.ExpiresAt):
		reason = EndExpired
	}
	return GroupEnd{Group: g.Group, Reason: reason, At: now, Members: len(g.members)}
}

// dissolveOf is the message that tells a group's subscribers it ended, whatever ended it: the
// message the host's dissolveGroup sends, which every editor acts on.
func dissolveOf(groupID, domain string) Dissolve {
	return Dissolve{GroupID: groupID, Domain: domain, Message: "Group " + groupID + "@" + domain + " has been dissolved successfully."}
}

// announceEnd marks a group that died as ended and tells its subscribers; the shard must be
// locked, which orders the message after every other of the group. The caller passes the end
// to groupEnded once it holds no lock.
func (b *Broker) announceEnd(g *group, now time.Time) GroupEnd {
	g.ended = true
	d := dissolveOf(g.ID, g.Domain)
	b.publish(&Message{GroupID: g.ID, Domain: g.Domain, Dissolve: &d})
	return endOf(g, now, false)
}

// groupEnded counts and logs a group that ended, and tells the lifecycle hook. It runs once
// per group, after its subscribers were told, and without locks held.
func (b *Broker) groupEnded(e GroupEnd) {
	lived := e.At.Sub(e.Group.CreatedAt).Round(time.Second).String()
	if e.Reason == EndDissolved {
		b.lifecycle.dissolved.Add(1)
		b.log.Info("group dissolved", "domain", e.Group.Domain, "group", e.Group.ID, "members", e.Members, "lived", lived)
	} else {
		b.lifecycle.expired.Add(1)
		b.log.Info("group expired", "domain", e.Group.Domain, "group", e.Group.ID, "reason", string(e.Reason), "members", e.Members, "lived", lived)
	}
	if b.onEnd != nil {
		b.onEnd(e)
	}
}
