package gql

import (
	"context"
	"encoding/json"
	"time"

	qerrors "github.com/graph-gophers/graphql-go/errors"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/gql/plan"
)

// execPlanned runs a query or mutation through its plan; ok is false when graphql-go must run
// it instead. readOnly runs only queries (GET): graphql-go refuses anything else.
func (s *Server) execPlanned(ctx context.Context, req request, readOnly bool) (data []byte, errs []*qerrors.QueryError, ok bool) {
	p := s.planOf(req)
	if p == nil || p.Subscription() || readOnly && p.Kind() != "query" {
		return nil, nil, false
	}
	a := req.args
	if req.argsOf != p {
		if a, ok = p.Bind(req.variables()); !ok {
			return nil, nil, false
		}
	}
	if node, events := a.FiredEvents(); events != nil {
		s.res.checkSkew(node, events)
	}
	start := time.Now()
	data, err := p.Run(ctx, s.b, a)
	var qe *qerrors.QueryError
	switch {
	case err == plan.ErrUnencodable && p.Kind() == "query":
		return nil, nil, false // nothing happened yet: graphql-go answers as it would
	case err == plan.ErrUnencodable:
		// Unreachable: a mutation writes back only ids it was given, and Bind refuses ids
		// graphql-go cannot write.
		qe = &qerrors.QueryError{Message: "Internal server error", Path: []any{p.Alias()}}
		data, errs = p.NullData(), []*qerrors.QueryError{qe}
	case err != nil:
		qe = &qerrors.QueryError{Message: err.Error(), Path: []any{p.Alias()}, ResolverError: err}
		if ex, ok := err.(interface{ Extensions() map[string]any }); ok {
			qe.Extensions = ex.Extensions()
		}
		data, errs = p.NullData(), []*qerrors.QueryError{qe}
	}
	s.cfg.OnOperation(p.Field(), outcome(ctx, qe), time.Since(start))
	return data, errs, true
}

// startPlanned starts a subscription document's execution through its plan: each message of
// the group is rendered once, on the group's delivery goroutine, and queued to every
// subscriber of the execution. nil leaves the document to graphql-go.
func (h *hub) startPlanned(s *Server, key string, req request) *execution {
	p := s.planOf(req)
	if p == nil || !p.Subscription() {
		return nil
	}
	a, ok := p.Bind(req.Variables)
	if !ok {
		return nil
	}
	domain, groupID := a.Group()
	e := &execution{key: key, group: GroupRef{Domain: domain, GroupID: groupID}}
	e.subs.Store(&[]*subscriber{})
	suffix := []byte("}")
	cancel, err := s.b.Subscribe(domain, groupID, func(m *broker.Message) {
		p.Render(m, func(payload []byte, ok bool) {
			if !ok {
				// graphql-go cannot write such a value either (see appendID).
				s.log.Error("subscription value cannot be encoded", "group", m.GroupID, "domain", m.Domain)
				return
			}
			if len(payload) > s.limits.MaxFrameBytes {
				payload, _ = json.Marshal(response{Data: jsonNull, Errors: []Error{tooLarge(s.limits.MaxFrameBytes, "MESH_MAX_SUBSCRIPTION_FRAME_BYTES")}})
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
