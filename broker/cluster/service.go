package cluster

import (
	"time"

	"github.com/smalruby/meshd/broker"
)

// The mutations of broker.Service are the embedded broker.Mutator's: each is one log entry
// (see propose), answered with what applying it on this node returned.

// The queries of broker.Service: each first waits until this node has applied every shard it
// reads — its group's shard, or all of them at once for a query that spans groups — so that
// it answers as the cluster's latest state.

// ListGroups implements broker.Service.
func (n *Node) ListGroups(domain string) ([]broker.Group, error) {
	if err := n.read(n.shards...); err != nil {
		return nil, err
	}
	return n.b.ListGroups(domain)
}

// SearchGroups implements broker.Service.
func (n *Node) SearchGroups(prefix string, limit *int) ([]broker.Group, error) {
	if err := n.read(n.shards...); err != nil {
		return nil, err
	}
	return n.b.SearchGroups(prefix, limit)
}

// GetGroup implements broker.Service.
func (n *Node) GetGroup(groupID, domain string) (*broker.Group, error) {
	if err := n.read(n.groupShard(domain, groupID)); err != nil {
		return nil, err
	}
	return n.b.GetGroup(groupID, domain)
}

// GetNodeStatus implements broker.Service.
func (n *Node) GetNodeStatus(nodeID string) (*broker.NodeStatus, error) {
	if err := n.read(n.shards...); err != nil {
		return nil, err
	}
	return n.b.GetNodeStatus(nodeID)
}

// ListStatuses implements broker.Service.
func (n *Node) ListStatuses(groupID, domain string) ([]broker.NodeStatus, error) {
	if err := n.read(n.groupShard(domain, groupID)); err != nil {
		return nil, err
	}
	return n.b.ListStatuses(groupID, domain)
}

// ListMembers implements broker.Service.
func (n *Node) ListMembers(groupID, domain string) ([]broker.Member, *broker.Group, error) {
	if err := n.read(n.groupShard(domain, groupID)); err != nil {
		return nil, nil, err
	}
	return n.b.ListMembers(groupID, domain)
}

// EventsSince implements broker.Service.
func (n *Node) EventsSince(groupID, domain, since string) ([]broker.Event, error) {
	if err := n.read(n.groupShard(domain, groupID)); err != nil {
		return nil, err
	}
	return n.b.EventsSince(groupID, domain, since)
}

// Subscribe implements broker.Service: it first catches up with the log, so that the
// subscriber receives the messages of mutations that return after it subscribed, and no older
// ones.
func (n *Node) Subscribe(domain, groupID string, fn func(*broker.Message)) (func(), error) {
	if err := n.read(n.groupShard(domain, groupID)); err != nil {
		return nil, err
	}
	return n.b.Subscribe(domain, groupID, fn)
}

// Config implements broker.Service.
func (n *Node) Config() broker.Config { return n.b.Config() }

// Now implements broker.Service: this node's clock.
func (n *Node) Now() time.Time { return n.clock().UTC().Truncate(time.Millisecond) }

// Stats implements broker.Service: the state this node holds, the same on every node that has
// applied the same log.
func (n *Node) Stats() broker.Stats { return n.b.Stats() }
