package plan

import (
	"context"

	"github.com/smalruby/meshd/broker"
)

// Args are the coerced arguments of a planned root field.
type Args struct {
	groupID, domain, nodeID, hostID, since string
	data                                   []broker.Pair
	events                                 []broker.EventInput
}

// argKinds are the arguments planned root fields take: how each is read and where it goes.
var argKinds = map[string]func(a *Args, v any) bool{
	"groupId": func(a *Args, v any) (ok bool) { a.groupID, ok = stringArg(v, true); return },
	"nodeId":  func(a *Args, v any) (ok bool) { a.nodeID, ok = stringArg(v, true); return },
	"hostId":  func(a *Args, v any) (ok bool) { a.hostID, ok = stringArg(v, true); return },
	"domain":  func(a *Args, v any) (ok bool) { a.domain, ok = stringArg(v, false); return },
	"since":   func(a *Args, v any) (ok bool) { a.since, ok = stringArg(v, false); return },
	"data":    func(a *Args, v any) (ok bool) { a.data, ok = sensorData(v); return },
	"events":  func(a *Args, v any) (ok bool) { a.events, ok = eventInputs(v); return },
}

// runner executes a planned query or mutation field: one broker call, then its value written
// to e, or the broker's error.
type runner func(ctx context.Context, b broker.Service, a *Args, e *enc) error

// renderer writes the values a planned subscription field emits for one message.
type renderer func(m *broker.Message, emit func(write func(e *enc)))

// rootDef is a root field the plan compiler supports.
type rootDef struct {
	kind    string   // "query", "mutation" or "subscription"
	args    []string // every argument, all required
	nonNull bool
	run     func(sels []*pField) (runner, error)
	sub     func(sels []*pField) (renderer, error)
}

// listRunner is a query whose value is a list read from the broker.
func listRunner[C any](t *objType[C], read func(b broker.Service, a *Args) ([]C, error)) func([]*pField) (runner, error) {
	return func(sels []*pField) (runner, error) {
		w, _, err := t.compile(sels)
		if err != nil {
			return nil, err
		}
		return func(_ context.Context, b broker.Service, a *Args, e *enc) error {
			items, err := read(b, a)
			if err != nil {
				return err
			}
			writeList(e, items, w)
			return nil
		}, nil
	}
}

// valueRunner is a field whose value is one object made by a broker call.
func valueRunner[C any](t *objType[C], call func(ctx context.Context, b broker.Service, a *Args) (C, error)) func([]*pField) (runner, error) {
	return func(sels []*pField) (runner, error) {
		w, _, err := t.compile(sels)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, b broker.Service, a *Args, e *enc) error {
			v, err := call(ctx, b, a)
			if err != nil {
				return err
			}
			w(e, &v)
			return nil
		}, nil
	}
}

// subRenderer is a subscription whose values pick is taken from each message.
func subRenderer[C any](t *objType[C], pick func(m *broker.Message, emit func(*C))) func([]*pField) (renderer, error) {
	return func(sels []*pField) (renderer, error) {
		w, _, err := t.compile(sels)
		if err != nil {
			return nil, err
		}
		return func(m *broker.Message, emit func(func(*enc))) {
			pick(m, func(v *C) { emit(func(e *enc) { w(e, v) }) })
		}, nil
	}
}

var (
	groupArgNames = []string{"groupId", "domain"}
	nodeArgNames  = []string{"groupId", "domain", "nodeId"}
	sinceArgNames = []string{"groupId", "domain", "since"}
)

// roots are the root fields plans execute; every other root field goes through graphql-go.
var roots = map[string]*rootDef{
	"listGroupStatuses": {kind: "query", args: groupArgNames, nonNull: true,
		run: listRunner(nodeStatusType, func(b broker.Service, a *Args) ([]broker.NodeStatus, error) {
			return b.ListStatuses(a.groupID, a.domain)
		})},
	"getEventsSince": {kind: "query", args: sinceArgNames, nonNull: true,
		run: listRunner(eventType, func(b broker.Service, a *Args) ([]broker.Event, error) {
			return b.EventsSince(a.groupID, a.domain, a.since)
		})},
	"pollGroupData": {kind: "query", args: sinceArgNames, nonNull: true,
		run: valueRunner(pollType, func(_ context.Context, b broker.Service, a *Args) (pollView, error) {
			sts, err := b.ListStatuses(a.groupID, a.domain)
			if err != nil {
				return pollView{}, err
			}
			evs, err := b.EventsSince(a.groupID, a.domain, a.since)
			return pollView{events: evs, statuses: sts}, err
		})},
	"renewHeartbeat": {kind: "mutation", args: []string{"groupId", "domain", "hostId"}, nonNull: true,
		run: valueRunner(heartbeatType, func(ctx context.Context, b broker.Service, a *Args) (heartbeatView, error) {
			g, err := b.RenewHeartbeat(ctx, a.groupID, a.domain, a.hostID)
			return heartbeatView{g: g, interval: b.Config().HostHeartbeatInterval}, err
		})},
	"sendMemberHeartbeat": {kind: "mutation", args: nodeArgNames, nonNull: true,
		run: valueRunner(memberHeartbeatType, func(ctx context.Context, b broker.Service, a *Args) (memberHeartbeatView, error) {
			m, err := b.SendMemberHeartbeat(ctx, a.groupID, a.domain, a.nodeID)
			return memberHeartbeatView{m: m, interval: m.HeartbeatInterval}, err
		})},
	"reportDataByNode": {kind: "mutation", args: []string{"groupId", "domain", "nodeId", "data"},
		run: valueRunner(meshMessageType, func(_ context.Context, b broker.Service, a *Args) (broker.Message, error) {
			st, err := b.ReportData(a.groupID, a.domain, a.nodeID, a.data)
			return broker.Message{GroupID: st.GroupID, Domain: st.Domain, Status: &st}, err
		})},
	"fireEventsByNode": {kind: "mutation", args: []string{"groupId", "domain", "nodeId", "events"},
		run: valueRunner(meshMessageType, func(_ context.Context, b broker.Service, a *Args) (broker.Message, error) {
			batch, err := b.FireEvents(a.groupID, a.domain, a.nodeID, a.events)
			return broker.Message{GroupID: batch.GroupID, Domain: batch.Domain, Batch: &batch}, err
		})},
	"recordEventsByNode": {kind: "mutation", args: []string{"groupId", "domain", "nodeId", "events"}, nonNull: true,
		run: valueRunner(recordType, func(_ context.Context, b broker.Service, a *Args) (recordView, error) {
			res, err := b.RecordEvents(a.groupID, a.domain, a.nodeID, a.events)
			return recordView{groupID: a.groupID, domain: a.domain, r: res}, err
		})},
	"onMessageInGroup": {kind: "subscription", args: groupArgNames,
		sub: subRenderer(meshMessageType, func(m *broker.Message, emit func(*broker.Message)) { emit(m) })},
	"onDataUpdateInGroup": {kind: "subscription", args: groupArgNames,
		sub: subRenderer(nodeStatusType, func(m *broker.Message, emit func(*broker.NodeStatus)) {
			if m.Status != nil {
				emit(m.Status)
			}
		})},
	"onBatchEventInGroup": {kind: "subscription", args: groupArgNames,
		sub: subRenderer(batchEventType, func(m *broker.Message, emit func(*broker.BatchEvent)) {
			if m.Batch != nil {
				emit(m.Batch)
			}
		})},
	"onGroupDissolve": {kind: "subscription", args: groupArgNames,
		sub: subRenderer(dissolveType, func(m *broker.Message, emit func(*broker.Dissolve)) {
			if m.Dissolve != nil {
				emit(m.Dissolve)
			}
		})},
	"onEventInGroup": {kind: "subscription", args: groupArgNames,
		sub: subRenderer(eventType, func(m *broker.Message, emit func(*broker.Event)) {
			if m.Batch == nil {
				return
			}
			for i := range m.Batch.Events {
				emit(&m.Batch.Events[i])
			}
		})},
}
