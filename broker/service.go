package broker

import (
	"context"
	"time"
)

// Service is the Mesh v2 state and its rules as the API layer sees them. *Broker implements it
// for one process; cluster.Node implements it for several meshd processes sharing one
// replicated log. Both pass brokertest.Conformance.
//
// The contract every implementation keeps:
//
//   - Rules. Every method applies the rules of the Mesh v2 API exactly as *Broker does and
//     fails with the same *Error (kind and message).
//   - Linearizable control plane. A mutation takes effect at one point between its call and
//     its return, and every call that starts after it returned — on any node of a cluster —
//     sees its effect (read-your-writes across nodes). Concurrent createGroup calls with the
//     same hostId and domain return one group.
//   - Durability. A control-plane mutation (create, join, leave, dissolve, heartbeats) that
//     returned without error survives the crash of the process that served it: on one node it
//     is in the fsynced store, in a cluster it is stored by a majority of the nodes.
//   - One order per group. Each group's accepted mutations have one total order. Every
//     subscriber of the group, on any node, receives the messages of the mutations that return
//     after it subscribed in that order, each exactly once, the sender included; the messages of
//     a group's mutations are delivered in the order the mutations took effect.
//   - Cursors. Polling cursors (EventsSince, RecordEvents) mean the same on every node: a
//     poller may send each request to a different node and sees every retained event once.
//   - Subscribe's fn is called from one goroutine per group and must not block.
type Service interface {
	// Config returns the rules applied.
	Config() Config
	// Now is the current time at millisecond precision, the precision of every stored instant.
	Now() time.Time

	CreateGroup(ctx context.Context, in CreateGroupInput) (Group, error)
	JoinGroup(ctx context.Context, groupID, domain, nodeID string) (Group, Member, error)
	LeaveGroup(ctx context.Context, groupID, domain, nodeID string) error
	DissolveGroup(ctx context.Context, groupID, domain, hostID string) (Dissolve, error)
	RenewHeartbeat(ctx context.Context, groupID, domain, hostID string) (Group, error)
	SendMemberHeartbeat(ctx context.Context, groupID, domain, nodeID string) (Member, error)
	ReportData(groupID, domain, nodeID string, data []Pair) (NodeStatus, error)
	FireEvents(groupID, domain, nodeID string, events []EventInput) (BatchEvent, error)
	RecordEvents(groupID, domain, nodeID string, events []EventInput) (RecordResult, error)

	ListGroups(domain string) ([]Group, error)
	SearchGroups(prefix string, limit *int) ([]Group, error)
	GetGroup(groupID, domain string) (*Group, error)
	GetNodeStatus(nodeID string) (*NodeStatus, error)
	ListStatuses(groupID, domain string) ([]NodeStatus, error)
	ListMembers(groupID, domain string) ([]Member, *Group, error)
	EventsSince(groupID, domain, since string) ([]Event, error)

	// Subscribe calls fn with every message of the group from now on until cancel is called.
	Subscribe(domain, groupID string, fn func(*Message)) (cancel func(), err error)

	// Stats counts the state held, for monitoring.
	Stats() Stats
	// Ready reports whether the service can serve requests now.
	Ready(ctx context.Context) error
}

var _ Service = (*Broker)(nil)
