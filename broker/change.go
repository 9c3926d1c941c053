package broker

import (
	"context"
	"fmt"
	"time"
)

// Op names the operation of a Change.
type Op string

// The operations of a Change: one per mutation of Service, and the sweep. Their names are
// stored in a cluster's log, so they never change.
const (
	OpCreate          Op = "create"
	OpJoin            Op = "join"
	OpLeave           Op = "leave"
	OpDissolve        Op = "dissolve"
	OpRenew           Op = "renew"
	OpMemberHeartbeat Op = "memberHeartbeat"
	OpReport          Op = "report"
	OpFire            Op = "fire"
	OpRecord          Op = "record"
	OpSweep           Op = "sweep"
)

// Change is one mutation of the state: the operation, the time it happens at, the id a new
// group gets, and the operation's arguments. Applying the same changes in the same order to
// two brokers gives the same state and the same answers, which is what lets a cluster
// replicate them as its log.
type Change struct {
	Op Op `json:"op"`
	// At is when the change happens; the broker's clock when zero.
	At time.Time `json:"-"`
	// NewID is the id a create that creates a group gives it; a new random id when empty.
	NewID   string            `json:"newId,omitempty"`
	GroupID string            `json:"groupId,omitempty"`
	Domain  string            `json:"domain,omitempty"`
	NodeID  string            `json:"nodeId,omitempty"`
	Create  *CreateGroupInput `json:"create,omitempty"`
	Data    []Pair            `json:"data,omitempty"`
	Events  []EventInput      `json:"events,omitempty"`
	// Part limits a sweep to the groups of one part (see PartOf); a sweep without it sweeps
	// every group.
	Part *Part `json:"part,omitempty"`
}

// Check reports whether the change has the arguments of its operation: a create's input,
// and no create input on anything else. Which values are valid is the rules' business.
func (c *Change) Check() error {
	switch c.Op {
	case OpCreate:
		if c.Create == nil {
			return fmt.Errorf("change %s without arguments", c.Op)
		}
	case OpJoin, OpLeave, OpDissolve, OpRenew, OpMemberHeartbeat, OpReport, OpFire, OpRecord, OpSweep:
		if c.Create != nil {
			return fmt.Errorf("change %s with create arguments", c.Op)
		}
		if c.Part != nil && (c.Op != OpSweep || c.Part.Of < 1 || c.Part.Index < 0 || c.Part.Index >= c.Part.Of) {
			return fmt.Errorf("change %s with part %+v", c.Op, *c.Part)
		}
	default:
		return fmt.Errorf("unknown change %q", c.Op)
	}
	return nil
}

// Outcome is what applying a Change answered: the field its operation returns is set.
type Outcome struct {
	Group    Group
	Member   Member
	Dissolve Dissolve
	Status   NodeStatus
	Batch    BatchEvent
	Record   RecordResult
}

// Apply runs one change through the rules at its time and answers as the matching Service
// method does. Every mutation of the broker goes through it.
func (b *Broker) Apply(ctx context.Context, c Change) (Outcome, error) {
	now := c.At.UTC().Truncate(time.Millisecond)
	if c.At.IsZero() {
		now = b.Now()
	}
	var o Outcome
	var err error
	switch c.Op {
	case OpCreate:
		if c.Create == nil {
			return o, fmt.Errorf("apply %s: no arguments", c.Op)
		}
		o.Group, err = b.createGroup(ctx, *c.Create, now, c.NewID)
	case OpJoin:
		o.Group, o.Member, err = b.joinGroup(ctx, c.GroupID, c.Domain, c.NodeID, now)
	case OpLeave:
		err = b.leaveGroup(ctx, c.GroupID, c.Domain, c.NodeID)
	case OpDissolve:
		o.Dissolve, err = b.dissolveGroup(ctx, c.GroupID, c.Domain, c.NodeID, now)
	case OpRenew:
		o.Group, err = b.renewHeartbeat(ctx, c.GroupID, c.Domain, c.NodeID, now)
	case OpMemberHeartbeat:
		o.Member, err = b.sendMemberHeartbeat(ctx, c.GroupID, c.Domain, c.NodeID, now)
	case OpReport:
		o.Status, err = b.reportData(c.GroupID, c.Domain, c.NodeID, c.Data, now)
	case OpFire:
		var fb firedBatch
		fb, err = b.fire(c.GroupID, c.Domain, c.NodeID, c.Events, false, now)
		o.Batch = fb.BatchEvent
	case OpRecord:
		var fb firedBatch
		if fb, err = b.fire(c.GroupID, c.Domain, c.NodeID, c.Events, true, now); err == nil {
			o.Record = RecordResult{Count: len(c.Events), NextSince: fb.nextSince}
		}
	case OpSweep:
		b.sweep(now, c.Part)
	default:
		return o, fmt.Errorf("apply: unknown change %q", c.Op)
	}
	return o, err
}

// Mutator implements the mutations of Service over one function that applies a Change: a
// Broker applies it at once, a cluster node through its replicated log. A new mutation is a
// new Op, its case in Apply and its method here.
type Mutator struct {
	apply func(context.Context, Change) (Outcome, error)
}

// NewMutator returns the mutations of Service, each applied by apply.
func NewMutator(apply func(context.Context, Change) (Outcome, error)) Mutator {
	return Mutator{apply: apply}
}

// CreateGroup returns the host's live group in the domain unchanged if it has one, and
// otherwise creates a group.
func (m Mutator) CreateGroup(ctx context.Context, in CreateGroupInput) (Group, error) {
	o, err := m.apply(ctx, Change{Op: OpCreate, Create: &in})
	return o.Group, err
}

// JoinGroup makes nodeID a member of a live group, or refreshes its membership.
func (m Mutator) JoinGroup(ctx context.Context, groupID, domain, nodeID string) (Group, Member, error) {
	o, err := m.apply(ctx, Change{Op: OpJoin, GroupID: groupID, Domain: domain, NodeID: nodeID})
	return o.Group, o.Member, err
}

// LeaveGroup removes nodeID's membership and status from the group. Leaving a group one is
// not in, or one that does not exist, succeeds.
func (m Mutator) LeaveGroup(ctx context.Context, groupID, domain, nodeID string) error {
	_, err := m.apply(ctx, Change{Op: OpLeave, GroupID: groupID, Domain: domain, NodeID: nodeID})
	return err
}

// DissolveGroup lets the host end its group: everything of the group is deleted and
// subscribers are told.
func (m Mutator) DissolveGroup(ctx context.Context, groupID, domain, hostID string) (Dissolve, error) {
	o, err := m.apply(ctx, Change{Op: OpDissolve, GroupID: groupID, Domain: domain, NodeID: hostID})
	return o.Dissolve, err
}

// RenewHeartbeat records that the host is still there. It never moves expiresAt.
func (m Mutator) RenewHeartbeat(ctx context.Context, groupID, domain, hostID string) (Group, error) {
	o, err := m.apply(ctx, Change{Op: OpRenew, GroupID: groupID, Domain: domain, NodeID: hostID})
	return o.Group, err
}

// SendMemberHeartbeat refreshes a live membership and returns it with its new expiry.
func (m Mutator) SendMemberHeartbeat(ctx context.Context, groupID, domain, nodeID string) (Member, error) {
	o, err := m.apply(ctx, Change{Op: OpMemberHeartbeat, GroupID: groupID, Domain: domain, NodeID: nodeID})
	return o.Member, err
}

// ReportData replaces nodeID's status in the group with data and publishes it. It takes
// ownership of data.
func (m Mutator) ReportData(groupID, domain, nodeID string, data []Pair) (NodeStatus, error) {
	o, err := m.apply(context.Background(), Change{Op: OpReport, GroupID: groupID, Domain: domain, NodeID: nodeID, Data: data})
	return o.Status, err
}

// FireEvents publishes a batch of events to the group and appends them to its polling log.
func (m Mutator) FireEvents(groupID, domain, nodeID string, events []EventInput) (BatchEvent, error) {
	o, err := m.apply(context.Background(), Change{Op: OpFire, GroupID: groupID, Domain: domain, NodeID: nodeID, Events: events})
	return o.Batch, err
}

// RecordEvents appends events to the group's polling log with the server's time and
// publishes them to subscribers too.
func (m Mutator) RecordEvents(groupID, domain, nodeID string, events []EventInput) (RecordResult, error) {
	o, err := m.apply(context.Background(), Change{Op: OpRecord, GroupID: groupID, Domain: domain, NodeID: nodeID, Events: events})
	return o.Record, err
}
