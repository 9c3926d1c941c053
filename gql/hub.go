package gql

import (
	"context"
	"encoding/json"
	"reflect"
	"strconv"
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
	// from is the group and address the subscription counts against.
	from groupAddress
}

// groupAddress is a group and a client address, whose live subscriptions are bounded.
type groupAddress struct {
	group GroupRef
	ip    string
}

// hub shares executions: subscribers with the same document and variables share one
// graphql-go execution and one encoded payload per message, so a group of 40 tabs costs one
// execution and one encoding per message, not 40.
type hub struct {
	mu         sync.Mutex
	execs      map[string]*execution
	executions atomic.Int64
	// perAddress counts the live subscriptions of each group from each address.
	perAddress map[groupAddress]int
	// lagged counts the executions ended because they fell behind their group.
	lagged atomic.Uint64
}

// execution is one running subscription document with its subscribers.
type execution struct {
	key    string
	group  GroupRef
	cancel context.CancelFunc
	// feed is what the resolver of a graphql-go execution pushes into; nil for a planned one.
	feed *feed
	// subs is replaced, never changed, so the delivery loop reads it without a lock.
	subs atomic.Pointer[[]*subscriber]
}

// add joins sub to the execution of its document and variables, starting it if needed, and
// queues ack (if any) so that it reaches the client before the first result and after the
// subscription is live.
//
// It reports false when the subscription failed at its start — its resolver refused the
// arguments (an oversized groupId, say) — after answering with one error, before any ack or
// result.
func (h *hub) add(s *Server, sub *subscriber, req request, ack []byte) bool {
	key := req.Query + "\x00" + req.OperationName + "\x00" + canonicalJSON(req.Variables)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.execs == nil {
		h.execs, h.perAddress = map[string]*execution{}, map[groupAddress]int{}
	}
	from := groupAddress{groupOf(req), sub.c.ip}
	if max := s.rt.cfg.MaxGroupSubscriptionsPerAddress; h.perAddress[from] >= max {
		sub.c.operationError(sub.id, "MaxSubscriptionsReachedError", "at most "+strconv.Itoa(max)+" subscriptions to one group from one address (MESH_MAX_GROUP_SUBSCRIPTIONS_PER_ADDRESS)")
		return false
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
		f := newFeed()
		ctx, cancel := context.WithCancel(context.WithValue(context.Background(), feedKey{}, f))
		ctx, _ = withBudget(ctx, s.limits.MaxFrameBytes, s.scans.get(req.Query).doc.Shape())
		e = &execution{key: key, group: groupOf(req), cancel: cancel, feed: f}
		e.subs.Store(&[]*subscriber{})
		refused := new(startRefusal)
		ctx = context.WithValue(ctx, startRefusalKey{}, refused)
		results, err := s.schema.Subscribe(ctx, req.Query, req.OperationName, req.Variables)
		if err != nil {
			cancel()
			sub.c.operationError(sub.id, "InternalError", "Internal server error")
			return false
		}
		if refused.err != nil {
			// graphql-go sends the resolver's error and closes the channel.
			var errs []Error
			for r := range results {
				if res, ok := r.(*graphql.Response); ok && len(res.Errors) > 0 && errs == nil {
					errs = s.convert(res.Errors)
				}
			}
			cancel()
			sub.c.sendError(sub.id, errs)
			return false
		}
		h.execs[key] = e
		h.executions.Add(1)
		go h.deliver(s, e, f, results)
	}
	sub.exec, sub.from = e, from
	h.perAddress[from]++
	old := *e.subs.Load()
	next := append(old[:len(old):len(old)], sub)
	// Holding the connection's lock keeps results out of its queue until the ack is in.
	sub.c.mu.Lock()
	e.subs.Store(&next)
	if ack != nil {
		sub.c.sendLocked(frame{payload: ack})
	}
	sub.c.mu.Unlock()
	return true
}

func (h *hub) remove(sub *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := sub.exec
	if e == nil {
		return
	}
	sub.exec = nil
	if h.perAddress[sub.from]--; h.perAddress[sub.from] <= 0 {
		delete(h.perAddress, sub.from)
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

// deliver runs a graphql-go execution: it hands graphql-go the feed's values one at a time,
// encodes each response once and queues it to every subscriber, timed from the publication
// of the value it was made of. When the execution ends by itself (its resolver failed) or
// falls behind its group, the subscribers get the error and their subscriptions end.
func (h *hub) deliver(s *Server, e *execution, f *feed, results <-chan any) {
	errs := h.run(s, e, f, results)
	e.cancel()
	h.mu.Lock()
	ended := h.execs[e.key] == e
	if ended {
		delete(h.execs, e.key)
		h.executions.Add(-1)
	}
	h.mu.Unlock()
	if !ended || len(errs) == 0 {
		return
	}
	for _, sub := range *e.subs.Load() {
		sub.c.stop(sub.id)
		sub.c.sendError(sub.id, errs)
	}
}

// run delivers until graphql-go's results end or the feed lags, and returns the errors the
// subscribers are to get. It hands graphql-go a value only once it has the response to the
// one before, so every response is paired with the value it was made of. (Should graphql-go
// drop a response, past SubscribeResolverTimeout, the feed lags and ends the execution.)
func (h *hub) run(s *Server, e *execution, f *feed, results <-chan any) []Error {
	var last *graphql.Response
	var resolving, next *feedItem // the value graphql-go works on; the one it is to get
	cases := []reflect.SelectCase{
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(results)},
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(f.wake)},
		{Dir: reflect.SelectSend},
	}
	for {
		var out reflect.Value
		var lagged bool
		if next == nil && resolving == nil {
			next, out, lagged = f.pop()
		} else {
			out, lagged = f.state()
		}
		if lagged {
			h.lagged.Add(1)
			s.log.Warn("realtime subscription fell behind its group and was ended", "group", e.group.GroupID, "domain", e.group.Domain,
				"subscribers", len(*e.subs.Load()), "buffer", subscriptionBuffer)
			return []Error{{ErrorType: typeSlowSubscription, Message: "This subscription fell more than " + strconv.Itoa(subscriptionBuffer) +
				" values behind its group and was ended; subscribe again."}}
		}
		n := 2
		if next != nil {
			cases[2].Chan, cases[2].Send = out, reflect.ValueOf(next.value)
			n = 3
		}
		chosen, recv, ok := reflect.Select(cases[:n])
		switch chosen {
		case 0:
			if !ok {
				if last != nil && len(last.Errors) > 0 {
					return s.convert(last.Errors)
				}
				return nil
			}
			res, _ := recv.Interface().(*graphql.Response)
			if res == nil {
				continue
			}
			last = res
			published := time.Now()
			if resolving != nil {
				published, resolving = resolving.published, nil
			}
			h.send(s, e, res, published)
		case 2:
			resolving, next = next, nil
			cases[2].Send = reflect.Value{}
		}
	}
}

// send encodes one response once and queues it to every subscriber of the execution.
func (h *hub) send(s *Server, e *execution, res *graphql.Response, published time.Time) {
	out := response{Data: orNull(res.Data), Errors: s.convert(res.Errors)}
	if len(res.Data) > s.limits.MaxFrameBytes || anyTooLarge(res.Errors) {
		// This message is not delivered to this document; the subscription stays.
		out = response{Data: jsonNull, Errors: []Error{tooLarge(s.limits.MaxFrameBytes, "MESH_MAX_SUBSCRIPTION_FRAME_BYTES")}}
	}
	payload, err := json.Marshal(out)
	if err != nil {
		s.log.Error("encode subscription result", "err", err)
		return
	}
	for _, sub := range *e.subs.Load() {
		sub.c.send(frame{prefix: sub.prefix, payload: payload, suffix: []byte("}"), published: published})
	}
}
