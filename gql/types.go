package gql

import (
	"context"
	"fmt"
	"time"

	graphql "github.com/graph-gophers/graphql-go"

	"github.com/smalruby/meshd/broker"
)

// DateTime is the AWSDateTime scalar: read as ISO 8601, written as UTC with milliseconds.
type DateTime struct{ time.Time }

// ImplementsGraphQLType reports that DateTime backs AWSDateTime.
func (DateTime) ImplementsGraphQLType(name string) bool { return name == "AWSDateTime" }

// UnmarshalGraphQL reads an AWSDateTime argument.
func (d *DateTime) UnmarshalGraphQL(input any) error {
	s, ok := input.(string)
	if !ok {
		return fmt.Errorf("AWSDateTime must be a string, got %T", input)
	}
	t, err := broker.ParseTime(s)
	if err != nil {
		return err
	}
	d.Time = t
	return nil
}

// MarshalJSON writes the AWSDateTime form every client sees.
func (d DateTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + broker.FormatTime(d.Time) + `"`), nil
}

func dt(t time.Time) DateTime { return DateTime{t} }

func optDT(t time.Time) *DateTime {
	if t.IsZero() {
		return nil
	}
	return &DateTime{t}
}

func seconds(d time.Duration) *int32 {
	n := int32(d / time.Second)
	return &n
}

// groupView resolves Group.
type groupView struct {
	g        broker.Group
	interval time.Duration
}

func (v groupView) ID() graphql.ID                   { return graphql.ID(v.g.ID) }
func (v groupView) Domain() string                   { return v.g.Domain }
func (v groupView) FullID() string                   { return v.g.FullID() }
func (v groupView) Name() string                     { return v.g.Name }
func (v groupView) HostID() graphql.ID               { return graphql.ID(v.g.HostID) }
func (v groupView) CreatedAt() DateTime              { return dt(v.g.CreatedAt) }
func (v groupView) ExpiresAt() DateTime              { return dt(v.g.ExpiresAt) }
func (v groupView) UseWebSocket() bool               { return v.g.UseWebSocket }
func (v groupView) PollingIntervalSeconds() *int32   { return pollingInterval(v.g) }
func (v groupView) HeartbeatIntervalSeconds() *int32 { return seconds(v.interval) }

func pollingInterval(g broker.Group) *int32 {
	if g.UseWebSocket {
		return nil
	}
	n := int32(g.PollingIntervalSeconds)
	return &n
}

// nodeView resolves Node: a member as seen through its group.
type nodeView struct {
	m         broker.Member
	g         broker.Group
	expiresAt time.Time
	interval  time.Duration
}

func (v nodeView) ID() graphql.ID                   { return graphql.ID(v.m.NodeID) }
func (v nodeView) NodeID() *graphql.ID              { id := graphql.ID(v.m.NodeID); return &id }
func (v nodeView) Name() string                     { return "Node " + v.m.NodeID }
func (v nodeView) GroupID() *graphql.ID             { id := graphql.ID(v.m.GroupID); return &id }
func (v nodeView) Domain() *string                  { return &v.m.Domain }
func (v nodeView) ExpiresAt() *DateTime             { return optDT(v.expiresAt) }
func (v nodeView) JoinedAt() *DateTime              { return optDT(v.m.JoinedAt) }
func (v nodeView) CreatedAt() *DateTime             { return optDT(v.g.CreatedAt) }
func (v nodeView) HeartbeatIntervalSeconds() *int32 { return seconds(v.interval) }
func (v nodeView) UseWebSocket() *bool              { return &v.g.UseWebSocket }
func (v nodeView) PollingIntervalSeconds() *int32   { return pollingInterval(v.g) }

// statusView resolves NodeStatus from its fields: listGroupStatuses returns dozens of them,
// and field resolvers cost no method call each.
type statusView struct {
	NodeID    graphql.ID
	GroupID   graphql.ID
	Domain    string
	Timestamp DateTime
	data      []broker.Pair
}

// Data is the status's pairs; they are charged to the answer's budget.
func (v statusView) Data(ctx context.Context) []broker.Pair {
	chargeList(ctx, pairBytes(v.data))
	return v.data
}

// pairBytes is what a list of pairs costs in an answer.
func pairBytes(data []broker.Pair) int {
	n := 0
	for _, p := range data {
		n += len(p.Key) + len(p.Value)
	}
	return n
}

func newStatusView(s *broker.NodeStatus) statusView {
	return statusView{graphql.ID(s.NodeID), graphql.ID(s.GroupID), s.Domain, dt(s.Timestamp), s.Data}
}

// eventView resolves Event.
type eventView struct{ e *broker.Event }

func (v eventView) Name() string              { return v.e.Name }
func (v eventView) FiredByNodeID() graphql.ID { return graphql.ID(v.e.FiredByNodeID) }
func (v eventView) GroupID() graphql.ID       { return graphql.ID(v.e.GroupID) }
func (v eventView) Domain() string            { return v.e.Domain }
func (v eventView) Payload(ctx context.Context) *string {
	if v.e.Payload != nil {
		charge(ctx, len(*v.e.Payload))
	}
	return v.e.Payload
}
func (v eventView) Timestamp() DateTime { return dt(v.e.Timestamp) }
func (v eventView) OrderKey() *string   { return v.e.OrderKey }
func (v eventView) Cursor() *string {
	if v.e.Cursor == "" {
		return nil
	}
	return &v.e.Cursor
}

func events(evs []broker.Event) []eventView {
	out := make([]eventView, len(evs))
	for i := range evs {
		out[i] = eventView{&evs[i]}
	}
	return out
}

// batchView resolves BatchEvent.
type batchView struct{ b *broker.BatchEvent }

func (v batchView) Events() []eventView       { return events(v.b.Events) }
func (v batchView) FiredByNodeID() graphql.ID { return graphql.ID(v.b.FiredByNodeID) }
func (v batchView) GroupID() graphql.ID       { return graphql.ID(v.b.GroupID) }
func (v batchView) Domain() string            { return v.b.Domain }
func (v batchView) Timestamp() DateTime       { return dt(v.b.Timestamp) }

// dissolveView resolves GroupDissolvePayload.
type dissolveView struct{ d *broker.Dissolve }

func (v dissolveView) GroupID() graphql.ID { return graphql.ID(v.d.GroupID) }
func (v dissolveView) Domain() string      { return v.d.Domain }
func (v dissolveView) Message() string     { return v.d.Message }

// messageView resolves MeshMessage, including the flattened fields that let G0/G1 mutation
// selections validate against it.
type messageView struct{ m *broker.Message }

func (v messageView) GroupID() graphql.ID { return graphql.ID(v.m.GroupID) }
func (v messageView) Domain() string      { return v.m.Domain }

func (v messageView) NodeStatus() *statusView {
	if v.m.Status == nil {
		return nil
	}
	sv := newStatusView(v.m.Status)
	return &sv
}

func (v messageView) BatchEvent() *batchView {
	if v.m.Batch == nil {
		return nil
	}
	return &batchView{v.m.Batch}
}

func (v messageView) GroupDissolve() *dissolveView {
	if v.m.Dissolve == nil {
		return nil
	}
	return &dissolveView{v.m.Dissolve}
}

func (v messageView) NodeID() *graphql.ID {
	if v.m.Status == nil {
		return nil
	}
	id := graphql.ID(v.m.Status.NodeID)
	return &id
}

func (v messageView) Data(ctx context.Context) *[]broker.Pair {
	if v.m.Status == nil {
		return nil
	}
	chargeList(ctx, pairBytes(v.m.Status.Data))
	return &v.m.Status.Data
}

func (v messageView) Timestamp() *DateTime {
	switch {
	case v.m.Status != nil:
		return optDT(v.m.Status.Timestamp)
	case v.m.Batch != nil:
		return optDT(v.m.Batch.Timestamp)
	}
	return nil
}

func (v messageView) Events() *[]eventView {
	if v.m.Batch == nil {
		return nil
	}
	e := events(v.m.Batch.Events)
	return &e
}

func (v messageView) FiredByNodeID() *graphql.ID {
	if v.m.Batch == nil {
		return nil
	}
	id := graphql.ID(v.m.Batch.FiredByNodeID)
	return &id
}

func (v messageView) Message() *string {
	if v.m.Dissolve == nil {
		return nil
	}
	return &v.m.Dissolve.Message
}

// heartbeatView resolves HeartbeatPayload.
type heartbeatView struct {
	g        broker.Group
	interval time.Duration
}

func (v heartbeatView) GroupID() graphql.ID              { return graphql.ID(v.g.ID) }
func (v heartbeatView) Domain() string                   { return v.g.Domain }
func (v heartbeatView) ExpiresAt() DateTime              { return dt(v.g.ExpiresAt) }
func (v heartbeatView) HeartbeatIntervalSeconds() *int32 { return seconds(v.interval) }
func (v heartbeatView) CreatedAt() *DateTime             { return optDT(v.g.CreatedAt) }

// memberHeartbeatView resolves MemberHeartbeatPayload.
type memberHeartbeatView struct {
	m        broker.Member
	interval time.Duration
	// group looks the member's group up, only when a document selects a field of it.
	group func(groupID, domain string) (*broker.Group, error)
}

func (v memberHeartbeatView) NodeID() graphql.ID               { return graphql.ID(v.m.NodeID) }
func (v memberHeartbeatView) GroupID() graphql.ID              { return graphql.ID(v.m.GroupID) }
func (v memberHeartbeatView) Domain() string                   { return v.m.Domain }
func (v memberHeartbeatView) ExpiresAt() DateTime              { return dt(v.m.ExpiresAt) }
func (v memberHeartbeatView) HeartbeatIntervalSeconds() *int32 { return seconds(v.interval) }

// CreatedAt is the group's creation time, null once the group is gone.
func (v memberHeartbeatView) CreatedAt() (*DateTime, error) {
	g, err := v.group(v.m.GroupID, v.m.Domain)
	if g == nil || err != nil {
		return nil, err
	}
	return optDT(g.CreatedAt), nil
}

// leaveView resolves LeaveGroupPayload.
type leaveView struct{ groupID, domain, nodeID string }

func (v leaveView) PeerID() graphql.ID  { return graphql.ID(v.nodeID) }
func (v leaveView) ID() *graphql.ID     { id := graphql.ID(v.nodeID); return &id }
func (v leaveView) Name() *string       { n := "Node " + v.nodeID; return &n }
func (v leaveView) GroupID() graphql.ID { return graphql.ID(v.groupID) }
func (v leaveView) Domain() string      { return v.domain }
func (v leaveView) Message() string {
	return "Peer " + v.nodeID + " successfully left group " + v.groupID
}

// recordView resolves RecordEventsPayload.
type recordView struct {
	groupID, domain string
	r               broker.RecordResult
}

func (v recordView) GroupID() graphql.ID  { return graphql.ID(v.groupID) }
func (v recordView) Domain() string       { return v.domain }
func (v recordView) RecordedCount() int32 { return int32(v.r.Count) }
func (v recordView) NextSince() string    { return v.r.NextSince }

// pollView resolves PollGroupData.
type pollView struct {
	events   []broker.Event
	statuses []broker.NodeStatus
}

func (v pollView) Events() []eventView { return events(v.events) }
func (v pollView) NodeStatuses() []statusView {
	out := make([]statusView, len(v.statuses))
	for i := range v.statuses {
		out[i] = newStatusView(&v.statuses[i])
	}
	return out
}
