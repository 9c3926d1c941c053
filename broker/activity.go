package broker

import "time"

// touch records that nodeID (a member or the host) did something in the group at now: joined,
// renewed a heartbeat, reported or fired events. The console shows it as the pupil's last
// activity. The shard must be locked.
func (g *group) touch(nodeID string, now time.Time) {
	if g.active == nil {
		g.active = map[string]time.Time{}
	}
	if now.After(g.active[nodeID]) {
		g.active[nodeID] = now
	}
}

// lastActive is when nodeID was last active in the group, no earlier than since (what the
// store kept: a membership's last join or heartbeat). The shard must be locked.
func (g *group) lastActive(nodeID string, since time.Time) time.Time {
	if at := g.active[nodeID]; at.After(since) {
		return at
	}
	return since
}
