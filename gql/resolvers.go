package gql

import (
	"context"
	"log/slog"

	graphql "github.com/graph-gophers/graphql-go"

	"github.com/smalruby/meshd/broker"
)

// resolver is the root of every query, mutation and subscription; each method translates
// its arguments into one broker call.
type resolver struct {
	b    broker.Service
	cfg  Config
	log  *slog.Logger
	skew skewWarner
}

type groupArgs struct {
	GroupID graphql.ID
	Domain  string
}

type nodeArgs struct {
	GroupID graphql.ID
	Domain  string
	NodeID  graphql.ID
}

type hostArgs struct {
	GroupID graphql.ID
	Domain  string
	HostID  graphql.ID
}

type sensorDataInput struct {
	Key   string
	Value string
}

type eventInput struct {
	EventName string
	Payload   *string
	FiredAt   DateTime
	OrderKey  *string
}

type eventsArgs struct {
	GroupID graphql.ID
	Domain  string
	NodeID  graphql.ID
	Events  []eventInput
}

func (r *resolver) group(g broker.Group) groupView {
	return groupView{g: g, interval: r.b.Config().HostHeartbeatInterval}
}

func (r *resolver) groups(gs []broker.Group) []groupView {
	out := make([]groupView, len(gs))
	for i, g := range gs {
		out[i] = r.group(g)
	}
	return out
}

// Queries.

// requireDomain reads a domain argument the oldest documents declare nullable.
func requireDomain(domain *string) (string, error) {
	if domain == nil {
		return "", &broker.Error{Kind: broker.ValidationError, Message: "domain is required"}
	}
	return *domain, nil
}

func (r *resolver) ListGroupsByDomain(args struct{ Domain *string }) ([]groupView, error) {
	domain, err := requireDomain(args.Domain)
	if err != nil {
		return nil, err
	}
	gs, err := r.b.ListGroups(domain)
	return r.groups(gs), err
}

func (r *resolver) SearchGroupsByNamePrefix(args struct {
	NamePrefix string
	Limit      *int32
}) ([]groupView, error) {
	var limit *int
	if args.Limit != nil {
		n := int(*args.Limit)
		limit = &n
	}
	gs, err := r.b.SearchGroups(args.NamePrefix, limit)
	return r.groups(gs), err
}

func (r *resolver) GetGroup(args groupArgs) (*groupView, error) {
	g, err := r.b.GetGroup(string(args.GroupID), args.Domain)
	if g == nil || err != nil {
		return nil, err
	}
	v := r.group(*g)
	return &v, nil
}

func (r *resolver) GetNodeStatus(args struct{ NodeID graphql.ID }) (*statusView, error) {
	st, err := r.b.GetNodeStatus(string(args.NodeID))
	if st == nil || err != nil {
		return nil, err
	}
	sv := newStatusView(st)
	return &sv, nil
}

func (r *resolver) ListGroupStatuses(args groupArgs) ([]statusView, error) {
	sts, err := r.b.ListStatuses(string(args.GroupID), args.Domain)
	return pollView{statuses: sts}.NodeStatuses(), err
}

func (r *resolver) ListNodesInGroup(args groupArgs) ([]nodeView, error) {
	ms, g, err := r.b.ListMembers(string(args.GroupID), args.Domain)
	if err != nil || g == nil {
		return []nodeView{}, err
	}
	out := make([]nodeView, len(ms))
	for i, m := range ms {
		out[i] = nodeView{m: m, g: *g, expiresAt: m.ExpiresAt, interval: m.HeartbeatInterval}
	}
	return out, nil
}

func (r *resolver) GetEventsSince(args struct {
	GroupID graphql.ID
	Domain  string
	Since   string
}) ([]eventView, error) {
	evs, err := r.b.EventsSince(string(args.GroupID), args.Domain, args.Since)
	return events(evs), err
}

func (r *resolver) PollGroupData(args struct {
	GroupID graphql.ID
	Domain  string
	Since   string
}) (*pollView, error) {
	sts, err := r.b.ListStatuses(string(args.GroupID), args.Domain)
	if err != nil {
		return nil, err
	}
	evs, err := r.b.EventsSince(string(args.GroupID), args.Domain, args.Since)
	if err != nil {
		return nil, err
	}
	return &pollView{events: evs, statuses: sts}, nil
}

// Mutations.

func (r *resolver) CreateDomain(ctx context.Context) string {
	return broker.Domain(r.cfg.DomainMode, r.cfg.Secret, clientIP(ctx))
}

func (r *resolver) CreateGroup(ctx context.Context, args struct {
	Name                     string
	HostID                   graphql.ID
	Domain                   *string
	MaxConnectionTimeSeconds *int32
	UseWebSocket             bool
}) (*groupView, error) {
	domain, err := requireDomain(args.Domain)
	if err != nil {
		return nil, err
	}
	in := broker.CreateGroupInput{Name: args.Name, HostID: string(args.HostID), Domain: domain, UseWebSocket: args.UseWebSocket}
	if args.MaxConnectionTimeSeconds != nil {
		n := int(*args.MaxConnectionTimeSeconds)
		in.MaxConnectionTimeSeconds = &n
	}
	g, err := r.b.CreateGroup(ctx, in)
	if err != nil {
		return nil, err
	}
	v := r.group(g)
	return &v, nil
}

func (r *resolver) JoinGroup(ctx context.Context, args struct {
	GroupID      graphql.ID
	Domain       string
	NodeID       graphql.ID
	UseWebSocket *bool
}) (*nodeView, error) {
	g, m, err := r.b.JoinGroup(ctx, string(args.GroupID), args.Domain, string(args.NodeID))
	if err != nil {
		return nil, err
	}
	return &nodeView{m: m, g: g, expiresAt: g.ExpiresAt, interval: m.HeartbeatInterval}, nil
}

func (r *resolver) LeaveGroup(ctx context.Context, args nodeArgs) (*leaveView, error) {
	if err := r.b.LeaveGroup(ctx, string(args.GroupID), args.Domain, string(args.NodeID)); err != nil {
		return nil, err
	}
	return &leaveView{groupID: string(args.GroupID), domain: args.Domain, nodeID: string(args.NodeID)}, nil
}

func (r *resolver) DissolveGroup(ctx context.Context, args hostArgs) (*messageView, error) {
	d, err := r.b.DissolveGroup(ctx, string(args.GroupID), args.Domain, string(args.HostID))
	if err != nil {
		return nil, err
	}
	return &messageView{&broker.Message{GroupID: d.GroupID, Domain: d.Domain, Dissolve: &d}}, nil
}

func (r *resolver) RenewHeartbeat(ctx context.Context, args hostArgs) (*heartbeatView, error) {
	g, err := r.b.RenewHeartbeat(ctx, string(args.GroupID), args.Domain, string(args.HostID))
	if err != nil {
		return nil, err
	}
	return &heartbeatView{g: g, interval: r.b.Config().HostHeartbeatInterval}, nil
}

func (r *resolver) SendMemberHeartbeat(ctx context.Context, args nodeArgs) (*memberHeartbeatView, error) {
	m, err := r.b.SendMemberHeartbeat(ctx, string(args.GroupID), args.Domain, string(args.NodeID))
	if err != nil {
		return nil, err
	}
	return &memberHeartbeatView{m: m, interval: m.HeartbeatInterval, group: r.b.GetGroup}, nil
}

func (r *resolver) ReportDataByNode(args struct {
	GroupID graphql.ID
	Domain  string
	NodeID  graphql.ID
	Data    []sensorDataInput
}) (*messageView, error) {
	data := make([]broker.Pair, len(args.Data))
	for i, p := range args.Data {
		data[i] = broker.Pair(p)
	}
	st, err := r.b.ReportData(string(args.GroupID), args.Domain, string(args.NodeID), data)
	if err != nil {
		return nil, err
	}
	return &messageView{&broker.Message{GroupID: st.GroupID, Domain: st.Domain, Status: &st}}, nil
}

// eventInputs converts fired events, warning when a client's clock is far off the server's.
func (r *resolver) eventInputs(nodeID graphql.ID, in []eventInput) []broker.EventInput {
	out := make([]broker.EventInput, len(in))
	for i, e := range in {
		out[i] = broker.EventInput{Name: e.EventName, Payload: e.Payload, FiredAt: e.FiredAt.Time, OrderKey: e.OrderKey}
	}
	r.checkSkew(string(nodeID), out)
	return out
}

// checkSkew warns when the first fired event's clock is far off the server's.
func (r *resolver) checkSkew(nodeID string, events []broker.EventInput) {
	if len(events) > 0 {
		r.skew.check(r.log, "firedAt", nodeID, events[0].FiredAt, r.b.Now())
	}
}

func (r *resolver) FireEventsByNode(args eventsArgs) (*messageView, error) {
	batch, err := r.b.FireEvents(string(args.GroupID), args.Domain, string(args.NodeID), r.eventInputs(args.NodeID, args.Events))
	if err != nil {
		return nil, err
	}
	return &messageView{&broker.Message{GroupID: batch.GroupID, Domain: batch.Domain, Batch: &batch}}, nil
}

func (r *resolver) FireEventByNode(args struct {
	GroupID   graphql.ID
	Domain    string
	NodeID    graphql.ID
	EventName string
	Payload   *string
}) (*eventView, error) {
	batch, err := r.b.FireEvents(string(args.GroupID), args.Domain, string(args.NodeID), []broker.EventInput{{
		Name: args.EventName, Payload: args.Payload, FiredAt: r.b.Now(),
	}})
	if err != nil {
		return nil, err
	}
	return &eventView{&batch.Events[0]}, nil
}

func (r *resolver) RecordEventsByNode(args eventsArgs) (*recordView, error) {
	res, err := r.b.RecordEvents(string(args.GroupID), args.Domain, string(args.NodeID), r.eventInputs(args.NodeID, args.Events))
	if err != nil {
		return nil, err
	}
	return &recordView{groupID: string(args.GroupID), domain: args.Domain, r: res}, nil
}
