package plan

import (
	"strings"
	"sync"

	"github.com/smalruby/meshd/broker"
)

// enc is the output of a plan being written. bad is set when a value cannot be encoded the
// way graphql-go would (see appendID); the plan's caller then leaves the request to
// graphql-go.
type enc struct {
	b   []byte
	bad bool
}

func (e *enc) id(s string) {
	var ok bool
	if e.b, ok = appendID(e.b, s); !ok {
		e.bad = true
	}
}

func (e *enc) str(s string) { e.b = appendString(e.b, s) }

func (e *enc) null() { e.b = append(e.b, "null"...) }

// writer writes one selection set over a source value of type S.
type writer[S any] func(e *enc, s *S)

// fieldDef compiles one field of an object type for the field's sub-selections, returning its
// writer and a text naming its shape.
type fieldDef[S any] func(sels []*pField) (writer[S], string, error)

// objType is a GraphQL object type whose values are Go values of type S.
type objType[S any] struct {
	name   string
	fields map[string]fieldDef[S]
	// memo, when set, finds the memo of a value: its encodings are then kept per shape.
	memo func(*S) *broker.Memo
}

// compile builds the writer of a selection set on t. Fields that share a response key are
// merged, in first-appearance order, as graphql-go merges them.
func (t *objType[S]) compile(sels []*pField) (writer[S], string, error) {
	type part struct {
		key  string
		name string
		sels []*pField
	}
	var parts []*part
	byKey := map[string]*part{}
	for _, f := range sels {
		if len(f.args) > 0 {
			return nil, "", errUnsupported
		}
		if p := byKey[f.alias]; p != nil {
			p.sels = append(p.sels, f.sels...)
			continue
		}
		p := &part{key: f.alias, name: f.name, sels: append([]*pField(nil), f.sels...)}
		byKey[f.alias] = p
		parts = append(parts, p)
	}
	type compiled struct {
		key []byte
		w   writer[S]
	}
	out := make([]compiled, 0, len(parts))
	var shape strings.Builder
	shape.WriteString(t.name + "{")
	for i, p := range parts {
		key := `"` + p.key + `":`
		if i > 0 {
			key = "," + key
		}
		var w writer[S]
		sub := ""
		if p.name == "__typename" {
			lit := []byte(`"` + t.name + `"`)
			w = func(e *enc, _ *S) { e.b = append(e.b, lit...) }
		} else {
			def := t.fields[p.name]
			if def == nil {
				return nil, "", errUnsupported
			}
			var err error
			if w, sub, err = def(p.sels); err != nil {
				return nil, "", err
			}
		}
		out = append(out, compiled{[]byte(key), w})
		shape.WriteString(p.key + ":" + p.name + sub + " ")
	}
	shape.WriteString("}")
	write := func(e *enc, s *S) {
		e.b = append(e.b, '{')
		for _, c := range out {
			e.b = append(e.b, c.key...)
			c.w(e, s)
		}
		e.b = append(e.b, '}')
	}
	if t.memo == nil {
		return write, shape.String(), nil
	}
	id := shapeID(shape.String())
	if id == 0 {
		return write, shape.String(), nil
	}
	return func(e *enc, s *S) {
		m := t.memo(s)
		if cached := m.Get(id); cached != nil {
			e.b = append(e.b, cached...)
			return
		}
		start, wasBad := len(e.b), e.bad
		write(e, s)
		if m != nil && !e.bad && !wasBad {
			m.Put(id, append([]byte(nil), e.b[start:]...))
		}
	}, shape.String(), nil
}

// leaf is a scalar field.
func leaf[S any](w writer[S]) fieldDef[S] {
	return func(sels []*pField) (writer[S], string, error) {
		if len(sels) > 0 {
			return nil, "", errUnsupported
		}
		return w, "", nil
	}
}

// object is a field of object type C, null when get returns nil.
func object[S, C any](t *objType[C], get func(*S) *C) fieldDef[S] {
	return func(sels []*pField) (writer[S], string, error) {
		w, shape, err := t.compile(sels)
		if err != nil {
			return nil, "", err
		}
		return func(e *enc, s *S) {
			if c := get(s); c != nil {
				w(e, c)
			} else {
				e.null()
			}
		}, shape, nil
	}
}

// list is a field of type [C!], null when get says so.
func list[S, C any](t *objType[C], get func(*S) ([]C, bool)) fieldDef[S] {
	return func(sels []*pField) (writer[S], string, error) {
		w, shape, err := t.compile(sels)
		if err != nil {
			return nil, "", err
		}
		return func(e *enc, s *S) {
			items, ok := get(s)
			if !ok {
				e.null()
				return
			}
			writeList(e, items, w)
		}, "[" + shape + "]", nil
	}
}

func writeList[C any](e *enc, items []C, w writer[C]) {
	e.b = append(e.b, '[')
	for i := range items {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		w(e, &items[i])
	}
	e.b = append(e.b, ']')
}

// shapes numbers selection shapes for memos; past maxShapes new shapes get 0 (not memoised).
var shapes struct {
	sync.Mutex
	ids map[string]uint64
}

const maxShapes = 1024

func shapeID(shape string) uint64 {
	shapes.Lock()
	defer shapes.Unlock()
	if id, ok := shapes.ids[shape]; ok {
		return id
	}
	if shapes.ids == nil {
		shapes.ids = map[string]uint64{}
	}
	if len(shapes.ids) >= maxShapes {
		return 0
	}
	id := uint64(len(shapes.ids) + 1)
	shapes.ids[shape] = id
	return id
}

// The object types of the schema that plans write, over the broker's values.

var sensorDataType = &objType[broker.Pair]{name: "SensorData", fields: map[string]fieldDef[broker.Pair]{
	"key":   leaf(func(e *enc, p *broker.Pair) { e.str(p.Key) }),
	"value": leaf(func(e *enc, p *broker.Pair) { e.str(p.Value) }),
}}

var nodeStatusType = &objType[broker.NodeStatus]{
	name: "NodeStatus",
	memo: func(s *broker.NodeStatus) *broker.Memo { return s.Memo },
	fields: map[string]fieldDef[broker.NodeStatus]{
		"nodeId":  leaf(func(e *enc, s *broker.NodeStatus) { e.id(s.NodeID) }),
		"groupId": leaf(func(e *enc, s *broker.NodeStatus) { e.id(s.GroupID) }),
		"domain":  leaf(func(e *enc, s *broker.NodeStatus) { e.str(s.Domain) }),
		"data": list(sensorDataType, func(s *broker.NodeStatus) ([]broker.Pair, bool) {
			return s.Data, true
		}),
		"timestamp": leaf(func(e *enc, s *broker.NodeStatus) { e.b = appendTime(e.b, s.Timestamp) }),
	},
}

var eventType = &objType[broker.Event]{name: "Event", fields: map[string]fieldDef[broker.Event]{
	"name":          leaf(func(e *enc, v *broker.Event) { e.str(v.Name) }),
	"firedByNodeId": leaf(func(e *enc, v *broker.Event) { e.id(v.FiredByNodeID) }),
	"groupId":       leaf(func(e *enc, v *broker.Event) { e.id(v.GroupID) }),
	"domain":        leaf(func(e *enc, v *broker.Event) { e.str(v.Domain) }),
	"payload":       leaf(func(e *enc, v *broker.Event) { e.b = appendOptString(e.b, v.Payload) }),
	"timestamp":     leaf(func(e *enc, v *broker.Event) { e.b = appendTime(e.b, v.Timestamp) }),
	"cursor": leaf(func(e *enc, v *broker.Event) {
		if v.Cursor == "" {
			e.null()
			return
		}
		e.str(v.Cursor)
	}),
	"orderKey": leaf(func(e *enc, v *broker.Event) { e.b = appendOptString(e.b, v.OrderKey) }),
}}

var batchEventType = &objType[broker.BatchEvent]{name: "BatchEvent", fields: map[string]fieldDef[broker.BatchEvent]{
	"events": list(eventType, func(b *broker.BatchEvent) ([]broker.Event, bool) {
		return b.Events, true
	}),
	"firedByNodeId": leaf(func(e *enc, b *broker.BatchEvent) { e.id(b.FiredByNodeID) }),
	"groupId":       leaf(func(e *enc, b *broker.BatchEvent) { e.id(b.GroupID) }),
	"domain":        leaf(func(e *enc, b *broker.BatchEvent) { e.str(b.Domain) }),
	"timestamp":     leaf(func(e *enc, b *broker.BatchEvent) { e.b = appendTime(e.b, b.Timestamp) }),
}}

var dissolveType = &objType[broker.Dissolve]{name: "GroupDissolvePayload", fields: map[string]fieldDef[broker.Dissolve]{
	"groupId": leaf(func(e *enc, d *broker.Dissolve) { e.id(d.GroupID) }),
	"domain":  leaf(func(e *enc, d *broker.Dissolve) { e.str(d.Domain) }),
	"message": leaf(func(e *enc, d *broker.Dissolve) { e.str(d.Message) }),
}}

var meshMessageType = &objType[broker.Message]{name: "MeshMessage", fields: map[string]fieldDef[broker.Message]{
	"groupId":       leaf(func(e *enc, m *broker.Message) { e.id(m.GroupID) }),
	"domain":        leaf(func(e *enc, m *broker.Message) { e.str(m.Domain) }),
	"nodeStatus":    object(nodeStatusType, func(m *broker.Message) *broker.NodeStatus { return m.Status }),
	"batchEvent":    object(batchEventType, func(m *broker.Message) *broker.BatchEvent { return m.Batch }),
	"groupDissolve": object(dissolveType, func(m *broker.Message) *broker.Dissolve { return m.Dissolve }),
	"nodeId": leaf(func(e *enc, m *broker.Message) {
		if m.Status == nil {
			e.null()
			return
		}
		e.id(m.Status.NodeID)
	}),
	"data": list(sensorDataType, func(m *broker.Message) ([]broker.Pair, bool) {
		if m.Status == nil {
			return nil, false
		}
		return m.Status.Data, true
	}),
	"timestamp": leaf(func(e *enc, m *broker.Message) {
		switch {
		case m.Status != nil && !m.Status.Timestamp.IsZero():
			e.b = appendTime(e.b, m.Status.Timestamp)
		case m.Status == nil && m.Batch != nil && !m.Batch.Timestamp.IsZero():
			e.b = appendTime(e.b, m.Batch.Timestamp)
		default:
			e.null()
		}
	}),
	"events": list(eventType, func(m *broker.Message) ([]broker.Event, bool) {
		if m.Batch == nil {
			return nil, false
		}
		return m.Batch.Events, true
	}),
	"firedByNodeId": leaf(func(e *enc, m *broker.Message) {
		if m.Batch == nil {
			e.null()
			return
		}
		e.id(m.Batch.FiredByNodeID)
	}),
	"message": leaf(func(e *enc, m *broker.Message) {
		if m.Dissolve == nil {
			e.null()
			return
		}
		e.str(m.Dissolve.Message)
	}),
}}

var heartbeatType = &objType[heartbeatView]{name: "HeartbeatPayload", fields: map[string]fieldDef[heartbeatView]{
	"groupId":                  leaf(func(e *enc, v *heartbeatView) { e.id(v.g.ID) }),
	"domain":                   leaf(func(e *enc, v *heartbeatView) { e.str(v.g.Domain) }),
	"expiresAt":                leaf(func(e *enc, v *heartbeatView) { e.b = appendTime(e.b, v.g.ExpiresAt) }),
	"heartbeatIntervalSeconds": leaf(func(e *enc, v *heartbeatView) { e.b = appendInt(e.b, seconds(v.interval)) }),
}}

var memberHeartbeatType = &objType[memberHeartbeatView]{name: "MemberHeartbeatPayload", fields: map[string]fieldDef[memberHeartbeatView]{
	"nodeId":                   leaf(func(e *enc, v *memberHeartbeatView) { e.id(v.m.NodeID) }),
	"groupId":                  leaf(func(e *enc, v *memberHeartbeatView) { e.id(v.m.GroupID) }),
	"domain":                   leaf(func(e *enc, v *memberHeartbeatView) { e.str(v.m.Domain) }),
	"expiresAt":                leaf(func(e *enc, v *memberHeartbeatView) { e.b = appendTime(e.b, v.m.ExpiresAt) }),
	"heartbeatIntervalSeconds": leaf(func(e *enc, v *memberHeartbeatView) { e.b = appendInt(e.b, seconds(v.interval)) }),
}}

var recordType = &objType[recordView]{name: "RecordEventsPayload", fields: map[string]fieldDef[recordView]{
	"groupId":       leaf(func(e *enc, v *recordView) { e.id(v.groupID) }),
	"domain":        leaf(func(e *enc, v *recordView) { e.str(v.domain) }),
	"recordedCount": leaf(func(e *enc, v *recordView) { e.b = appendInt(e.b, int32(v.r.Count)) }),
	"nextSince":     leaf(func(e *enc, v *recordView) { e.str(v.r.NextSince) }),
}}

var pollType = &objType[pollView]{name: "PollGroupData", fields: map[string]fieldDef[pollView]{
	"events": list(eventType, func(v *pollView) ([]broker.Event, bool) { return v.events, true }),
	"nodeStatuses": list(nodeStatusType, func(v *pollView) ([]broker.NodeStatus, bool) {
		return v.statuses, true
	}),
}}
