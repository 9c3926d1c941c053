package gql

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	graphql "github.com/graph-gophers/graphql-go"
)

// subscriber is one subscription of one connection.
type subscriber struct {
	c      *conn
	id     string
	prefix []byte
	exec   *execution
}

// hub shares executions: subscribers with the same document and variables share one
// graphql-go execution and one encoded payload per message, so a group of 40 tabs costs one
// execution and one encoding per message, not 40.
type hub struct {
	mu         sync.Mutex
	execs      map[string]*execution
	executions atomic.Int64
}

// execution is one running subscription document with its subscribers.
type execution struct {
	key    string
	group  GroupRef
	cancel context.CancelFunc
	stamps chan time.Time
	// subs is replaced, never changed, so the delivery loop reads it without a lock.
	subs atomic.Pointer[[]*subscriber]
}

// add joins sub to the execution of its document and variables, starting it if needed, and
// queues ack (if any) so that it reaches the client before the first result and after the
// subscription is live.
func (h *hub) add(s *Server, sub *subscriber, req request, ack []byte) {
	key := req.Query + "\x00" + req.OperationName + "\x00" + canonicalJSON(req.Variables)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.execs == nil {
		h.execs = map[string]*execution{}
	}
	e := h.execs[key]
	if e == nil {
		e = h.startPlanned(s, key, req)
		if e != nil {
			h.execs[key] = e
			h.executions.Add(1)
		}
	}
	if e == nil {
		stamps := make(chan time.Time, subscriptionBuffer)
		ctx, cancel := context.WithCancel(context.WithValue(context.Background(), stampsKey{}, stamps))
		ctx, _ = withBudget(ctx, s.limits.MaxFrameBytes, scanShape(req.Query))
		e = &execution{key: key, group: groupOf(req), cancel: cancel, stamps: stamps}
		e.subs.Store(&[]*subscriber{})
		results, err := s.schema.Subscribe(ctx, req.Query, req.OperationName, req.Variables)
		if err != nil {
			cancel()
			sub.c.operationError(sub.id, "InternalError", "Internal server error")
			return
		}
		h.execs[key] = e
		h.executions.Add(1)
		go h.deliver(s, e, results)
	}
	sub.exec = e
	old := *e.subs.Load()
	next := append(old[:len(old):len(old)], sub)
	// Holding the connection's lock keeps results out of its queue until the ack is in.
	sub.c.mu.Lock()
	e.subs.Store(&next)
	if ack != nil {
		sub.c.sendLocked(frame{payload: ack})
	}
	sub.c.mu.Unlock()
}

func (h *hub) remove(sub *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := sub.exec
	if e == nil {
		return
	}
	old := *e.subs.Load()
	next := make([]*subscriber, 0, len(old))
	for _, x := range old {
		if x != sub {
			next = append(next, x)
		}
	}
	e.subs.Store(&next)
	if len(next) == 0 && h.execs[e.key] == e {
		delete(h.execs, e.key)
		h.executions.Add(-1)
		e.cancel()
	}
}

// deliver encodes each result once and queues it to every subscriber of the execution. When
// the execution ends by itself (its resolver failed), the subscribers get the error.
func (h *hub) deliver(s *Server, e *execution, results <-chan any) {
	var last *graphql.Response
	for r := range results {
		res, ok := r.(*graphql.Response)
		if !ok {
			continue
		}
		last = res
		out := response{Data: orNull(res.Data), Errors: ConvertErrors(res.Errors)}
		if len(res.Data) > s.limits.MaxFrameBytes || anyTooLarge(res.Errors) {
			// This message is not delivered to this document; the subscription stays.
			out = response{Data: jsonNull, Errors: []Error{tooLarge(s.limits.MaxFrameBytes, "MESH_MAX_SUBSCRIPTION_FRAME_BYTES")}}
		}
		payload, err := json.Marshal(out)
		if err != nil {
			s.log.Error("encode subscription result", "err", err)
			continue
		}
		var published time.Time
		select {
		case published = <-e.stamps:
		default:
			published = time.Now()
		}
		for _, sub := range *e.subs.Load() {
			sub.c.send(frame{prefix: sub.prefix, payload: payload, suffix: []byte("}"), published: published})
		}
	}
	h.mu.Lock()
	ended := h.execs[e.key] == e
	if ended {
		delete(h.execs, e.key)
		h.executions.Add(-1)
	}
	h.mu.Unlock()
	if !ended || last == nil || len(last.Errors) == 0 {
		return
	}
	errs := ConvertErrors(last.Errors)
	for _, sub := range *e.subs.Load() {
		sub.c.sendError(sub.id, errs)
		sub.c.stop(sub.id)
	}
}
