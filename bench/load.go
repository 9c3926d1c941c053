package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// A node holds this many global variables, so a full report is the size the spec estimates
// (§14.5: ~10 variables, 0.5–1 KB per data frame).
const variables = 10

// variableNames are the keys a node reports; the first carries the sequence tag.
var variableNames = func() [variables]string {
	var names [variables]string
	for i := range names {
		names[i] = "var" + strconv.Itoa(i)
	}
	return names
}()

// fillerValue is the value of every untagged variable.
const fillerValue = "0123456789abcdef"

// The editor's timers (spec §14.1, newest client).
const (
	sendPeriod     = time.Second      // data and event batches, 1000 ms spacing
	syncPeriod     = 15 * time.Second // listGroupStatuses in WebSocket mode
	defaultPolling = 2 * time.Second  // pollGroupData when the server names no interval
)

// shape is what one run offers: groups of nodes, each group sending dataRate reports and
// eventRate event batches per second, in WebSocket or polling mode.
type shape struct {
	groups, nodes       int
	dataRate, eventRate int
	polling             bool
}

// group is one classroom: a host (node 0) and its members.
type group struct {
	index          int
	id, domain     string
	nodes          []*node
	senders        []*sender
	hostInterval   time.Duration
	memberInterval time.Duration
	pollInterval   time.Duration
}

// node is one editor: its identity, what it sent and what it received.
type node struct {
	g     *group
	pos   int // 0 is the host
	id    string
	snd   *sender
	rcv   *receiver
	hist  *histogram
	via   int           // the server node it talks to, an index into load.eps
	rt    *rtConn       // WebSocket mode, once subscribed
	read  chan struct{} // closed when the socket's reader has stopped
	since string        // polling cursor
	// dissolved is set by the socket's reader when the group's dissolve arrives.
	dissolved atomic.Bool
}

// load drives one server with one shape and accounts for everything it sent and received.
type load struct {
	shape shape
	// eps are the server's nodes (one for a single meshd), each with its client pool.
	eps    []endpoints
	apis   []*api
	dialer *websocket.Dialer
	key    string
	docs   map[string]string // the editor's documents by operation name
	groups []*group

	win     window
	hist    histShards
	answers answerSizes // meshd's answers to the heartbeats and syncs, for the fed broadcaster

	httpErrors     counts
	realtimeErrors counts
	delivered      atomic.Uint64 // first arrivals, for the drain
	// paused stops the reports, events, syncs and polls (not the heartbeats, which keep the
	// groups alive) while the references run.
	paused    atomic.Bool
	mutations atomic.Uint64 // acknowledged reports and event batches sent inside the window
	requests  atomic.Uint64 // every request answered inside the window
	closing   atomic.Bool
}

func newLoad(s shape, eps []endpoints, key string, docs map[string]string) *load {
	l := &load{shape: s, eps: eps, key: key, docs: docs, dialer: newDialer(), hist: newHistShards(64), answers: newAnswerSizes()}
	for _, ep := range eps {
		a := newAPI(ep.graphql, key, 512/len(eps), &l.httpErrors)
		a.answers = l.answers
		l.apis = append(l.apis, a)
	}
	base := 0
	for gi := range s.groups {
		g := &group{index: gi, hostInterval: 60 * time.Second, memberInterval: 120 * time.Second, pollInterval: defaultPolling}
		for pos := range s.nodes {
			g.senders = append(g.senders, &sender{index: base + pos})
		}
		for pos := range s.nodes {
			n := &node{g: g, pos: pos, via: via(gi, pos, len(eps)), id: nodeName(gi, pos), snd: g.senders[pos],
				rcv: newReceiver(g.senders, s.polling), hist: l.hist.shard(base + pos), read: make(chan struct{})}
			n.rcv.arrivals = &l.delivered
			g.nodes = append(g.nodes, n)
		}
		base += s.nodes
		l.groups = append(l.groups, g)
	}
	return l
}

// nodeName is the id of node pos of group gi.
func nodeName(gi, pos int) string {
	return fmt.Sprintf("bench-%d-%d", gi, pos)
}

// call sends one operation of node n to n's server node, with the editor's document of that
// name, and counts it when it was answered inside the window.
func (l *load) call(ctx context.Context, n *node, op string, vars, out any) (mutationOutcome, error) {
	outcome, err := l.apis[n.via].call(ctx, op, l.docs[op], vars, out)
	if outcome != outcomeUnknown && l.win.contains(time.Now().UnixNano()) {
		l.requests.Add(1)
	}
	return outcome, err
}

// lessonStart is the burst at the start of a lesson (spec §14.5): every host creates its
// group (with a probe first in WebSocket mode), subscribes and reports; then every member
// joins, subscribes, reports and syncs. At most parallel nodes set up at once.
func (l *load) lessonStart(ctx context.Context, parallel int) error {
	sem := make(chan struct{}, parallel)
	errs := make(chan error, len(l.groups)*l.shape.nodes)
	var wg sync.WaitGroup
	for _, g := range l.groups {
		wg.Go(func() {
			sem <- struct{}{}
			err := l.host(ctx, g.nodes[0])
			<-sem
			if err != nil {
				errs <- fmt.Errorf("group %d host: %w", g.index, err)
				return
			}
			for _, n := range g.nodes[1:] {
				sem <- struct{}{}
				wg.Go(func() {
					defer func() { <-sem }()
					if err := l.member(ctx, n); err != nil {
						errs <- fmt.Errorf("group %d node %d: %w", g.index, n.pos, err)
					}
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	if len(all) > 0 {
		return fmt.Errorf("lesson start: %d of %d nodes failed; first: %w", len(all), len(l.groups)*l.shape.nodes, all[0])
	}
	return nil
}

type (
	domainData struct {
		CreateDomain string `json:"createDomain"`
	}
	membership struct {
		ID                       string `json:"id"`
		HeartbeatIntervalSeconds *int   `json:"heartbeatIntervalSeconds"`
		PollingIntervalSeconds   *int   `json:"pollingIntervalSeconds"`
	}
	createData struct {
		CreateGroup membership `json:"createGroup"`
	}
	joinData struct {
		JoinGroup membership `json:"joinGroup"`
	}
)

func (l *load) host(ctx context.Context, n *node) error {
	g := n.g
	var d domainData
	if _, err := l.call(ctx, n, "CreateDomain", map[string]any{}, &d); err != nil {
		return err
	}
	g.domain = d.CreateDomain
	if !l.shape.polling {
		if err := probe(ctx, l.dialer, l.eps[n.via]); err != nil {
			return err
		}
	}
	l.startPollCursor(n)
	var c createData
	vars := map[string]any{"name": fmt.Sprintf("Class %d", g.index), "hostId": n.id, "domain": g.domain,
		"maxConnectionTimeSeconds": nil, "useWebSocket": !l.shape.polling}
	if _, err := l.call(ctx, n, "CreateGroup", vars, &c); err != nil {
		return err
	}
	g.id = c.CreateGroup.ID
	if s := c.CreateGroup.HeartbeatIntervalSeconds; s != nil && *s > 0 {
		g.hostInterval = time.Duration(*s) * time.Second
	}
	if s := c.CreateGroup.PollingIntervalSeconds; s != nil && *s > 0 {
		g.pollInterval = time.Duration(*s) * time.Second
	}
	return l.enter(ctx, n, false)
}

func (l *load) member(ctx context.Context, n *node) error {
	g := n.g
	l.startPollCursor(n)
	var j joinData
	vars := map[string]any{"groupId": g.id, "domain": g.domain, "nodeId": n.id, "useWebSocket": !l.shape.polling}
	if _, err := l.call(ctx, n, "JoinGroup", vars, &j); err != nil {
		return err
	}
	if s := j.JoinGroup.HeartbeatIntervalSeconds; s != nil && *s > 0 && n.pos == 1 {
		g.memberInterval = time.Duration(*s) * time.Second
	}
	return l.enter(ctx, n, true)
}

// startPollCursor sets a polling node's cursor to the client's clock, as the editor does,
// and owes it every event sent after that.
func (l *load) startPollCursor(n *node) {
	if !l.shape.polling {
		return
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	n.since = now.Format(isoMillis)
	n.rcv.since = now.Add(time.Millisecond).UnixNano()
}

// enter finishes a node's start: subscribe (WebSocket mode), the full report, and a member's
// first sync.
func (l *load) enter(ctx context.Context, n *node, firstSync bool) error {
	if !l.shape.polling {
		rt, err := subscribe(ctx, l.dialer, l.eps[n.via], l.key, l.docs["OnMessageInGroup"], "sub-"+n.id, n.g.id, n.g.domain)
		if err != nil {
			return err
		}
		n.rt = rt
		n.rcv.since = time.Now().UnixNano()
		go l.readSocket(n)
	}
	if _, err := l.report(ctx, n); err != nil {
		return err
	}
	if firstSync {
		if _, err := l.call(ctx, n, "ListGroupStatuses", n.groupVars(), nil); err != nil {
			return err
		}
	}
	return nil
}

func (n *node) groupVars() map[string]any {
	return map[string]any{"groupId": n.g.id, "domain": n.g.domain}
}

type pair struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// report sends every variable, the first carrying a fresh tag.
func (l *load) report(ctx context.Context, n *node) (mutationOutcome, error) {
	t := n.snd.next(kindData, time.Now().UnixNano())
	data := make([]pair, variables)
	for i := range data {
		data[i] = pair{Key: variableNames[i], Value: fillerValue}
	}
	data[0].Value = t.String()
	vars := map[string]any{"groupId": n.g.id, "domain": n.g.domain, "nodeId": n.id, "data": data}
	outcome, err := l.call(ctx, n, "ReportDataByNode", vars, nil)
	n.snd.settle(t.seq, outcome)
	l.countMutation(t, outcome)
	return outcome, err
}

type eventInput struct {
	EventName string  `json:"eventName"`
	Payload   string  `json:"payload"`
	FiredAt   string  `json:"firedAt"`
	OrderKey  *string `json:"orderKey"`
}

// fire sends one event batch of one event whose payload is a fresh tag: fireEventsByNode in
// WebSocket mode, recordEventsByNode in polling mode.
func (l *load) fire(ctx context.Context, n *node) (mutationOutcome, error) {
	now := time.Now()
	t := n.snd.next(kindEvent, now.UnixNano())
	orderKey := strconv.FormatUint(t.seq, 10)
	events := []eventInput{{EventName: "tick", Payload: t.String(), FiredAt: now.UTC().Format(isoMillis), OrderKey: &orderKey}}
	vars := map[string]any{"groupId": n.g.id, "domain": n.g.domain, "nodeId": n.id, "events": events}
	op := "FireEventsByNode"
	if l.shape.polling {
		op = "RecordEventsByNode"
	}
	outcome, err := l.call(ctx, n, op, vars, nil)
	n.snd.settle(t.seq, outcome)
	l.countMutation(t, outcome)
	return outcome, err
}

func (l *load) countMutation(t tag, outcome mutationOutcome) {
	if outcome == outcomeAcked && l.win.contains(t.sent) {
		l.mutations.Add(1)
	}
}

// readSocket accounts for every frame a subscribed node receives until its socket closes.
func (l *load) readSocket(n *node) {
	defer close(n.read)
	for {
		f, err := n.rt.next()
		if err != nil {
			if !l.closing.Load() {
				l.realtimeErrors.add("socket lost: " + closeReason(err))
				n.rcv.died = true
			}
			return
		}
		now := time.Now().UnixNano()
		switch string(f.typ) {
		case "data":
			for _, t := range f.tags {
				n.rcv.observe(t, now, &l.win, n.hist)
			}
			if f.badTags > 0 {
				n.rcv.unexpected += uint64(f.badTags)
			}
			if f.dissolve {
				n.dissolved.Store(true)
			}
		case "ka":
		case "complete":
			// The answer to the stop of close, or the end after a dissolve.
			if !l.closing.Load() && !n.dissolved.Load() {
				l.realtimeErrors.add("unexpected complete frame")
			}
		default:
			l.realtimeErrors.add("unexpected " + string(f.typ) + " frame")
		}
	}
}

// closeReason names why a socket ended.
func closeReason(err error) string {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return "close " + strconv.Itoa(ce.Code)
	}
	if errors.Is(err, errFrame) {
		return "malformed frame"
	}
	return transportProblem(err)
}

// steady runs every node's timers until ctx ends: data and event senders at their rates,
// heartbeats, the 15 s sync (WebSocket mode) or the poll (polling mode).
func (l *load) steady(ctx context.Context) {
	var wg sync.WaitGroup
	perGroup := l.shape.dataRate + l.shape.eventRate
	base := time.Now()
	for _, g := range l.groups {
		for _, n := range g.nodes {
			first := slotStart(base, g.index*perGroup+n.pos, len(l.groups)*perGroup)
			switch {
			case n.pos < l.shape.dataRate:
				wg.Go(func() { every(ctx, first, sendPeriod, l.unlessPaused(func() { l.report(ctx, n) })) })
			case n.pos < perGroup:
				wg.Go(func() { every(ctx, first, sendPeriod, l.unlessPaused(func() { l.fire(ctx, n) })) })
			}
			wg.Go(func() { l.heartbeat(ctx, n) })
			if l.shape.polling {
				wg.Go(func() {
					every(ctx, randomStart(g.pollInterval), g.pollInterval, l.unlessPaused(func() { l.poll(ctx, n) }))
				})
			} else {
				wg.Go(func() {
					every(ctx, randomStart(syncPeriod), syncPeriod, l.unlessPaused(func() {
						l.call(ctx, n, "ListGroupStatuses", n.groupVars(), nil)
					}))
				})
			}
		}
	}
	wg.Wait()
}

// unlessPaused is f, skipped while the load is paused.
func (l *load) unlessPaused(f func()) func() {
	return func() {
		if !l.paused.Load() {
			f()
		}
	}
}

func (l *load) heartbeat(ctx context.Context, n *node) {
	if n.pos == 0 {
		vars := map[string]any{"groupId": n.g.id, "domain": n.g.domain, "hostId": n.id}
		every(ctx, randomStart(n.g.hostInterval), n.g.hostInterval, func() {
			l.call(ctx, n, "RenewHeartbeat", vars, nil)
		})
		return
	}
	vars := map[string]any{"groupId": n.g.id, "domain": n.g.domain, "nodeId": n.id}
	every(ctx, randomStart(n.g.memberInterval), n.g.memberInterval, func() {
		l.call(ctx, n, "SendMemberHeartbeat", vars, nil)
	})
}

// randomStart is a random instant within the next period, for timers whose phase does not
// matter as long as they are spread.
func randomStart(period time.Duration) time.Time {
	return time.Now().Add(rand.N(period))
}

// slotStart is the first send of the sender in slot of slots: the slots are spread evenly
// over sendPeriod from base, one instant taken before any sender starts, so that how late a
// sender's goroutine first runs does not move its slot (taken from each goroutine's own
// start, the slots of a ×10 run bunched into part of each second, up to twice the load there
// and none elsewhere).
func slotStart(base time.Time, slot, slots int) time.Time {
	return base.Add(time.Duration(int64(slot) * int64(sendPeriod) / int64(max(slots, 1))))
}

// every calls f at first, first+period, … until ctx ends. A call that overruns its slot
// delays the next one, as the editor's sequential sender does; missed slots are skipped.
func every(ctx context.Context, first time.Time, period time.Duration, f func()) {
	next := first
	timer := time.NewTimer(time.Until(next))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		f()
		next = next.Add(period)
		if now := time.Now(); next.Before(now) {
			next = now.Add(period - now.Sub(next)%period)
		}
		timer.Reset(time.Until(next))
	}
}

type pollData struct {
	PollGroupData struct {
		Events []struct {
			Payload *string `json:"payload"`
			Cursor  string  `json:"cursor"`
		} `json:"events"`
		NodeStatuses []struct {
			Data []pair `json:"data"`
		} `json:"nodeStatuses"`
	} `json:"pollGroupData"`
}

// poll fetches what is new for a polling node and accounts for it. The cursor moves to the
// last returned event, as the editor does after a poll; unlike the editor it is not moved by
// the node's own recordEventsByNode (spec §11.4: that skip loses other nodes' events on the
// client, which would be counted against the server here).
// It returns how many events the poll brought.
func (l *load) poll(ctx context.Context, n *node) int {
	var d pollData
	vars := map[string]any{"groupId": n.g.id, "domain": n.g.domain, "since": n.since}
	if outcome, _ := l.call(ctx, n, "PollGroupData", vars, &d); outcome != outcomeAcked {
		return 0
	}
	now := time.Now().UnixNano()
	for _, e := range d.PollGroupData.Events {
		if e.Payload == nil {
			continue
		}
		t, ok := parseTag([]byte(*e.Payload))
		if !ok {
			n.rcv.unexpected++
			continue
		}
		n.rcv.observe(t, now, &l.win, n.hist)
	}
	if ev := d.PollGroupData.Events; len(ev) > 0 {
		n.since = ev[len(ev)-1].Cursor
	}
	for _, st := range d.PollGroupData.NodeStatuses {
		for _, p := range st.Data {
			if t, ok := parseTag([]byte(p.Value)); ok {
				n.rcv.observeStatus(t, now, &l.win, n.hist)
			}
		}
	}
	return len(d.PollGroupData.Events)
}

// catchUp has every polling node poll until a poll brings no events (at most 20 polls), so
// what was sent just before the senders stopped is fetched too.
func (l *load) catchUp(ctx context.Context) {
	if !l.shape.polling {
		return
	}
	var wg sync.WaitGroup
	for _, g := range l.groups {
		for _, n := range g.nodes {
			wg.Go(func() {
				for range 20 {
					if l.poll(ctx, n) == 0 {
						return
					}
				}
			})
		}
	}
	wg.Wait()
}

// drain waits until no new message has arrived for quiet, at most limit.
func (l *load) drain(ctx context.Context, quiet, limit time.Duration) {
	deadline := time.Now().Add(limit)
	last, since := l.delivered.Load(), time.Now()
	for time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
		if n := l.delivered.Load(); n != last {
			last, since = n, time.Now()
		} else if time.Since(since) >= quiet {
			return
		}
	}
}

// dissolve has every host dissolve its group and waits (at most limit) until every subscribed
// node has seen it; it returns how many of them did and how many were subscribed.
func (l *load) dissolve(ctx context.Context, limit time.Duration) (seen, subscribed int) {
	var wg sync.WaitGroup
	for _, g := range l.groups {
		if g.id == "" {
			continue
		}
		wg.Go(func() {
			vars := map[string]any{"groupId": g.id, "domain": g.domain, "hostId": g.nodes[0].id}
			l.call(ctx, g.nodes[0], "DissolveGroup", vars, nil)
		})
	}
	wg.Wait()
	deadline := time.Now().Add(limit)
	for {
		seen, subscribed = 0, 0
		for _, g := range l.groups {
			for _, n := range g.nodes {
				if n.rt != nil {
					subscribed++
					if n.dissolved.Load() {
						seen++
					}
				}
			}
		}
		if seen == subscribed || time.Now().After(deadline) || ctx.Err() != nil {
			return seen, subscribed
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// close ends every subscription and waits for the readers.
func (l *load) close() {
	l.closing.Store(true)
	for _, g := range l.groups {
		for _, n := range g.nodes {
			if n.rt != nil {
				n.rt.close()
			}
		}
	}
	for _, g := range l.groups {
		for _, n := range g.nodes {
			if n.rt != nil {
				<-n.read
				n.rt.ws.Close()
			}
		}
	}
	for _, a := range l.apis {
		a.close()
	}
}

// tally sums what every receiver got; call it after close.
func (l *load) tally() tally {
	var t tally
	for _, g := range l.groups {
		for _, n := range g.nodes {
			expected, lost, dead := n.rcv.owed()
			t.expected += expected
			t.lost += lost
			t.dead += dead
			if n.rcv.died {
				t.deadSockets++
			}
			t.deliveries += n.rcv.deliveries
			t.inWindow += n.rcv.inWindow
			t.duplicated += n.rcv.duplicated
			t.outOfOrder += n.rcv.outOfOrder
			t.unexpected += n.rcv.unexpected
		}
	}
	return t
}

// tally is the exact delivery accounting of a run: lost counts what sockets that stayed up
// (and, before they died, the others) did not get; dead what was owed to deadSockets after
// they died.
type tally struct {
	expected, lost, deliveries, inWindow, duplicated, outOfOrder, unexpected uint64
	dead, deadSockets                                                        uint64
}
