package cluster

import (
	"context"
	"time"

	"github.com/smalruby/meshd/broker"
)

// The mutations of broker.Service: each is one log entry, answered with what applying it on
// this node returned.

// CreateGroup implements broker.Service.
func (n *Node) CreateGroup(ctx context.Context, in broker.CreateGroupInput) (broker.Group, error) {
	r, err := n.propose(ctx, &entry{Op: opCreate, Create: &in, NewID: newGroupID()})
	if err != nil {
		return broker.Group{}, err
	}
	return r.group, r.err
}

// JoinGroup implements broker.Service.
func (n *Node) JoinGroup(ctx context.Context, groupID, domain, nodeID string) (broker.Group, broker.Member, error) {
	r, err := n.propose(ctx, &entry{Op: opJoin, GroupID: groupID, Domain: domain, NodeID: nodeID})
	if err != nil {
		return broker.Group{}, broker.Member{}, err
	}
	return r.group, r.member, r.err
}

// LeaveGroup implements broker.Service.
func (n *Node) LeaveGroup(ctx context.Context, groupID, domain, nodeID string) error {
	r, err := n.propose(ctx, &entry{Op: opLeave, GroupID: groupID, Domain: domain, NodeID: nodeID})
	if err != nil {
		return err
	}
	return r.err
}

// DissolveGroup implements broker.Service.
func (n *Node) DissolveGroup(ctx context.Context, groupID, domain, hostID string) (broker.Dissolve, error) {
	r, err := n.propose(ctx, &entry{Op: opDissolve, GroupID: groupID, Domain: domain, NodeID: hostID})
	if err != nil {
		return broker.Dissolve{}, err
	}
	return r.dissolve, r.err
}

// RenewHeartbeat implements broker.Service.
func (n *Node) RenewHeartbeat(ctx context.Context, groupID, domain, hostID string) (broker.Group, error) {
	r, err := n.propose(ctx, &entry{Op: opRenew, GroupID: groupID, Domain: domain, NodeID: hostID})
	if err != nil {
		return broker.Group{}, err
	}
	return r.group, r.err
}

// SendMemberHeartbeat implements broker.Service.
func (n *Node) SendMemberHeartbeat(ctx context.Context, groupID, domain, nodeID string) (broker.Member, error) {
	r, err := n.propose(ctx, &entry{Op: opMemberHeartbeat, GroupID: groupID, Domain: domain, NodeID: nodeID})
	if err != nil {
		return broker.Member{}, err
	}
	return r.member, r.err
}

// ReportData implements broker.Service.
func (n *Node) ReportData(groupID, domain, nodeID string, data []broker.Pair) (broker.NodeStatus, error) {
	r, err := n.propose(context.Background(), &entry{Op: opReport, GroupID: groupID, Domain: domain, NodeID: nodeID, Data: data})
	if err != nil {
		return broker.NodeStatus{}, err
	}
	return r.status, r.err
}

// FireEvents implements broker.Service.
func (n *Node) FireEvents(groupID, domain, nodeID string, events []broker.EventInput) (broker.BatchEvent, error) {
	r, err := n.propose(context.Background(), &entry{Op: opFire, GroupID: groupID, Domain: domain, NodeID: nodeID, Events: events})
	if err != nil {
		return broker.BatchEvent{}, err
	}
	return r.batch, r.err
}

// RecordEvents implements broker.Service.
func (n *Node) RecordEvents(groupID, domain, nodeID string, events []broker.EventInput) (broker.RecordResult, error) {
	r, err := n.propose(context.Background(), &entry{Op: opRecord, GroupID: groupID, Domain: domain, NodeID: nodeID, Events: events})
	if err != nil {
		return broker.RecordResult{}, err
	}
	return r.record, r.err
}

// The queries of broker.Service: each first waits until this node has applied the whole log,
// so that it answers as the cluster's latest state.

// ListGroups implements broker.Service.
func (n *Node) ListGroups(domain string) ([]broker.Group, error) {
	if err := n.read(); err != nil {
		return nil, err
	}
	return n.b.ListGroups(domain)
}

// SearchGroups implements broker.Service.
func (n *Node) SearchGroups(prefix string, limit *int) ([]broker.Group, error) {
	if err := n.read(); err != nil {
		return nil, err
	}
	return n.b.SearchGroups(prefix, limit)
}

// GetGroup implements broker.Service.
func (n *Node) GetGroup(groupID, domain string) (*broker.Group, error) {
	if err := n.read(); err != nil {
		return nil, err
	}
	return n.b.GetGroup(groupID, domain)
}

// GetNodeStatus implements broker.Service.
func (n *Node) GetNodeStatus(nodeID string) (*broker.NodeStatus, error) {
	if err := n.read(); err != nil {
		return nil, err
	}
	return n.b.GetNodeStatus(nodeID)
}

// ListStatuses implements broker.Service.
func (n *Node) ListStatuses(groupID, domain string) ([]broker.NodeStatus, error) {
	if err := n.read(); err != nil {
		return nil, err
	}
	return n.b.ListStatuses(groupID, domain)
}

// ListMembers implements broker.Service.
func (n *Node) ListMembers(groupID, domain string) ([]broker.Member, *broker.Group, error) {
	if err := n.read(); err != nil {
		return nil, nil, err
	}
	return n.b.ListMembers(groupID, domain)
}

// EventsSince implements broker.Service.
func (n *Node) EventsSince(groupID, domain, since string) ([]broker.Event, error) {
	if err := n.read(); err != nil {
		return nil, err
	}
	return n.b.EventsSince(groupID, domain, since)
}

// Subscribe implements broker.Service: it first catches up with the log, so that the
// subscriber receives the messages of mutations that return after it subscribed, and no older
// ones.
func (n *Node) Subscribe(domain, groupID string, fn func(*broker.Message)) (func(), error) {
	if err := n.read(); err != nil {
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
