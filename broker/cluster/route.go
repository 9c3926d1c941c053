package cluster

import (
	"github.com/google/uuid"

	"github.com/smalruby/meshd/broker"
)

// Which shard of the log carries a change. Every change of a group goes to the group's shard,
// broker.PartOf(domain, group id): one order per group on every node. A createGroup has no
// group id yet: it goes to the shard of its domain and host id, the place of that host's
// "latest group in the domain" (the one thing a create reads), and the new group gets an id
// of that same shard. So every group a host creates in a domain, and every create that may
// return one of them, is in one shard, ordered as in one process.

// shardOf returns the shard of the change, giving a create the id of its new group.
func (n *Node) shardOf(c *broker.Change) *shard {
	count := len(n.shards)
	switch {
	case c.Op == broker.OpSweep && c.Part != nil:
		return n.shards[c.Part.Index]
	case c.Op == broker.OpCreate:
		i := broker.PartOf(c.Create.Domain, c.Create.HostID, count)
		c.NewID = newGroupID(c.Create.Domain, i, count)
		return n.shards[i]
	}
	return n.groupShard(c.Domain, c.GroupID)
}

// groupShard returns the shard that carries the group's changes.
func (n *Node) groupShard(domain, groupID string) *shard {
	return n.shards[broker.PartOf(domain, groupID, len(n.shards))]
}

// newGroupID returns a new random group id whose group, in domain, belongs to shard i of
// count: count tries on average.
func newGroupID(domain string, i, count int) string {
	for {
		if id := uuid.NewString(); broker.PartOf(domain, id, count) == i {
			return id
		}
	}
}
