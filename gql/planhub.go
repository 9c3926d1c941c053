package gql

import (
	"encoding/json"

	"github.com/smalruby/meshd/broker"
)

// startPlanned starts a subscription document's execution through its plan: each message of
// the group is rendered once, on the group's delivery goroutine, and queued to every
// subscriber of the execution. nil leaves the document to graphql-go.
func (h *hub) startPlanned(s *Server, key string, req request) *execution {
	p := s.plans.get(s, req)
	if p == nil || p.render == nil {
		return nil
	}
	a, ok := p.bind(req.Variables)
	if !ok {
		return nil
	}
	e := &execution{key: key, group: GroupRef{Domain: a.domain, GroupID: a.groupID}}
	e.subs.Store(&[]*subscriber{})
	suffix := []byte("}")
	cancel, err := s.b.Subscribe(a.domain, a.groupID, func(m *broker.Message) {
		p.render(m, func(write func(*enc)) {
			payload, ok := p.payload(write)
			if ok && len(payload) > s.limits.MaxFrameBytes {
				payload, _ = json.Marshal(response{Data: jsonNull, Errors: []Error{tooLarge(s.limits.MaxFrameBytes, "MESH_MAX_SUBSCRIPTION_FRAME_BYTES")}})
			}
			if !ok {
				// graphql-go cannot write such a value either (see appendID).
				s.log.Error("subscription value cannot be encoded", "group", m.GroupID, "domain", m.Domain)
				return
			}
			for _, sub := range *e.subs.Load() {
				sub.c.send(frame{prefix: sub.prefix, payload: payload, suffix: suffix, published: m.Published})
			}
		})
	})
	if err != nil {
		return nil // graphql-go reports it to the subscriber
	}
	e.cancel = cancel
	return e
}

// payload is the realtime payload of one subscription value, as hub.deliver encodes
// graphql-go's: {"data":{"alias":value}}.
func (p *plan) payload(write func(*enc)) ([]byte, bool) {
	out := p.newEnc()
	out.b = append(append(out.b, `{"data":`...), p.prefix...)
	write(&out)
	out.b = append(out.b, "}}"...)
	p.size.Store(int64(len(out.b)))
	return out.b, !out.bad
}
